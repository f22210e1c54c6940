"""Tier 1: the forecast preprocessing_fn on a few in-memory windows, exact outputs (tft_unit style)."""
import numpy as np
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from preprocessing import forecast_transform

CONFIG = {'numeric_features': ['y', 'x'], 'categorical_features': ['wind'], 'target_feature': 'y',
          'time_feature': '', 'num_oov_buckets': 1}


def _preprocessing_fn(inputs):
  return forecast_transform.preprocessing_fn(inputs, CONFIG)


class ForecastTransformTest(tft_unit.TransformTestCase):

  def test_scaling_vocabulary_and_label(self):
    # Target history over both windows: 1, 3, 5, 7 -> mean 4, population std sqrt(5).
    rows = [
        {'y': [1.0, 3.0], 'x': [0.0, 2.0], 'wind': [b'NW', b'SE'], 'label': [6.0]},
        {'y': [5.0, 7.0], 'x': [2.0, 4.0], 'wind': [b'NW', b'NW'], 'label': [9.0]},
    ]
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec({
        'y': tf.io.FixedLenFeature([2], tf.float32), 'x': tf.io.FixedLenFeature([2], tf.float32),
        'wind': tf.io.FixedLenFeature([2], tf.string), 'label': tf.io.FixedLenFeature([1], tf.float32)})
    std = np.sqrt(5.0)
    x_std = np.sqrt(2.0)  # x values 0, 2, 2, 4 -> mean 2, population variance 2
    expected = [
        {'y': [-3 / std, -1 / std], 'x': [-2 / x_std, 0.0], 'wind': [0, 1], 'label': 2 / std,
         'target_scale': std, 'target_shift': 4.0},
        {'y': [1 / std, 3 / std], 'x': [0.0, 2 / x_std], 'wind': [0, 0], 'label': 5 / std,
         'target_scale': std, 'target_shift': 4.0},
    ]
    # Serving-time input: an unseen wind direction maps to the OOV bucket (id = vocabulary size).
    test_rows = [{'y': [4.0, 4.0], 'x': [2.0, 2.0], 'wind': [b'cv', b'SE'], 'label': [4.0]}]
    self.assertAnalyzeAndTransformResults(
        rows, metadata, _preprocessing_fn, expected,
        expected_vocab_file_contents={'wind_vocab': [b'NW', b'SE']})
    self.assertAnalyzeAndTransformResults(
        rows, metadata, _preprocessing_fn,
        [{'y': [0.0, 0.0], 'x': [0.0, 0.0], 'wind': [2, 1], 'label': 0.0, 'target_scale': std,
          'target_shift': 4.0}],
        test_data=test_rows)


if __name__ == '__main__':
  tft_unit.main()
