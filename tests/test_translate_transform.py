"""Tier 1: the translate preprocessing_fn on a few pairs: exact ids in both vocabularies, [START]/[END]
placement, the shift by one between decoder input and target, padding, truncation and OOV."""
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from preprocessing import translate_transform

CONFIG = {'source_column': 'source', 'target_column': 'target', 'source_vocab_size': 3, 'target_vocab_size': 3,
          'min_word_count': 1, 'num_oov_buckets': 1, 'max_source_length': 4, 'max_target_length': 3}
METADATA = dataset_metadata.DatasetMetadata.from_feature_spec({
    'source': tf.io.FixedLenFeature([1], tf.string), 'target': tf.io.FixedLenFeature([1], tf.string)})


def _preprocessing_fn(inputs):
  return translate_transform.preprocessing_fn(inputs, CONFIG)


class TranslateTransformTest(tft_unit.TransformTestCase):

  def test_ids_start_end_shift_padding_truncation_and_oov(self):
    # Source counts: go 4, "." 3, i 2, every other token 1 -> ids after [PAD] [START] [END]: go=3, "."=4, i=5;
    # OOV tokens get 6. Target counts: je 4, vais 3, "." 2, others 1 -> je=3, vais=4, "."=5, OOV=6.
    rows = [
        {'source': ['I go.'], 'target': ['Je vais.']},
        {'source': ['Go!'], 'target': ['Va !']},
        {'source': ['I am cold now.'], 'target': ["J'ai froid maintenant."]},
        {'source': ['Go, go.'], 'target': ['je vais je vais je']},
    ]
    expected = [
        # A 3-token target fills max_target_length: [START] before it, [END] after it, shifted by one.
        {'source_tokens': [5, 3, 4, 0], 'source_length_bucket': 0,
         'decoder_input': [1, 3, 4, 5], 'target_tokens': [3, 4, 5, 2]},
        {'source_tokens': [3, 6, 0, 0], 'source_length_bucket': 0,
         'decoder_input': [1, 6, 6, 0], 'target_tokens': [6, 6, 2, 0]},  # padded with [PAD]=0
        # Truncated to 4 source / 3 target tokens; the target still ends with [END].
        {'source_tokens': [5, 6, 6, 6], 'source_length_bucket': 1,
         'decoder_input': [1, 6, 6, 6], 'target_tokens': [6, 6, 6, 2]},
        {'source_tokens': [3, 6, 3, 4], 'source_length_bucket': 1,
         'decoder_input': [1, 3, 4, 3], 'target_tokens': [3, 4, 3, 2]},
    ]
    # The vocabulary files (what serving maps ids back to words with) hold the reserved tokens first.
    vocabularies = {
        'source_vocab': [b'[PAD]', b'[START]', b'[END]', b'go', b'.', b'i'],
        'target_vocab': [b'[PAD]', b'[START]', b'[END]', b'je', b'vais', b'.'],
    }
    self.assertAnalyzeAndTransformResults(rows, METADATA, _preprocessing_fn, expected,
                                          expected_vocab_file_contents=vocabularies)

  def test_words_seen_once_are_out_of_vocabulary_with_a_minimum_count_of_two(self):
    rows = [{'source': ['go go now'], 'target': ['va va maintenant']}, {'source': ['go'], 'target': ['va']}]
    expected = [{'source_tokens': [3, 3, 4, 0], 'source_length_bucket': 0,  # now: seen once -> OOV (4)
                 'decoder_input': [1, 3, 3, 4], 'target_tokens': [3, 3, 4, 2]},
                {'source_tokens': [3, 0, 0, 0], 'source_length_bucket': 0,
                 'decoder_input': [1, 3, 0, 0], 'target_tokens': [3, 2, 0, 0]}]
    vocabularies = {'source_vocab': [b'[PAD]', b'[START]', b'[END]', b'go'],
                    'target_vocab': [b'[PAD]', b'[START]', b'[END]', b'va']}
    self.assertAnalyzeAndTransformResults(
        rows, METADATA, lambda inputs: translate_transform.preprocessing_fn(inputs, {**CONFIG, 'min_word_count': 2}),
        expected, expected_vocab_file_contents=vocabularies)


if __name__ == '__main__':
  tft_unit.main()
