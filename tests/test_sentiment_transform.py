"""Tier 1: the sentiment preprocessing_fn on a handful of sentences: exact ids, padding, truncation, OOV,
punctuation and case handling."""
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from preprocessing import sentiment_transform

CONFIG = {'text_column': 'text', 'label_column': 'label', 'vocab_size': 4, 'num_oov_buckets': 1, 'max_length': 4}
METADATA = dataset_metadata.DatasetMetadata.from_feature_spec({
    'text': tf.io.FixedLenFeature([1], tf.string), 'label': tf.io.FixedLenFeature([1], tf.int64)})


def _preprocessing_fn(inputs):
  return sentiment_transform.preprocessing_fn(inputs, CONFIG)


class SentimentTransformTest(tft_unit.TransformTestCase):

  def test_ids_padding_truncation_and_oov(self):
    # Token counts after normalisation: good 5, film 4, bad 3, "!" 2, every other token 1.
    # So the top-4 vocabulary after [PAD]=0 is good=1, film=2, bad=3, "!"=4, and OOV tokens get 5.
    rows = [
        {'text': ['Good film!'], 'label': [1]},
        {'text': ['GOOD good film'], 'label': [1]},
        {'text': ["it's a BAD, bad film ! boring ."], 'label': [0]},
        {'text': ['good good bad film'], 'label': [1]},
    ]
    oov = 5
    expected = [
        {'tokens': [1, 2, 4, 0], 'label': 1, 'length_bucket': 0},  # padded with [PAD]=0
        {'tokens': [1, 1, 2, 0], 'label': 1, 'length_bucket': 0},
        {'tokens': [oov, oov, oov, 3], 'label': 0, 'length_bucket': 1},  # it 's a bad | , bad film ...: truncated
        {'tokens': [1, 1, 3, 2], 'label': 1, 'length_bucket': 0},
    ]
    self.assertAnalyzeAndTransformResults(rows, METADATA, _preprocessing_fn, expected)

  def test_normalisation_of_case_punctuation_and_quotes(self):
    from preprocessing import text  # pylint: disable=g-import-not-at-top
    normalized = text.normalize(tf.constant(['  It’s "GREAT"!!  Really?', 'Va-t-en, vite.'])).numpy()
    self.assertEqual(list(normalized), [b"it 's great ! ! really ?", b'va-t-en , vite .'])


if __name__ == '__main__':
  tft_unit.main()
