"""tf.Transform for the forecast task: row-wise on window examples (one example per window).

The window examples come from TimeSeriesWindowGen: every input feature is a [W] vector of raw values,
`label` is the raw target H steps ahead. Statistics come from the train split only (the pipeline sets
Transform's analyze split), so nothing from eval/test leaks into the scaling.
"""
from typing import Any, Dict

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

LABEL_KEY = 'label'
# Per-example copies of the target's scaling constants: the serving signatures multiply the model's scaled
# forecast by TARGET_SCALE and add TARGET_SHIFT to answer in original units.
TARGET_SCALE_KEY = 'target_scale'
TARGET_SHIFT_KEY = 'target_shift'
# Calendar features derived from the input rows' timestamps: [W] each, in [-1, 1].
CALENDAR_KEYS = ('hour_sin', 'hour_cos', 'year_sin', 'year_cos')
_DAY, _YEAR = 86400.0, 365.2425 * 86400.0


def calendar_features(timestamps: tf.Tensor) -> Dict[str, tf.Tensor]:
  """Unix seconds [batch, W] -> time of day and time of year as sine/cosine pairs, [batch, W] each."""
  seconds = tf.cast(timestamps, tf.float64)
  day = 2 * np.pi * tf.math.floormod(seconds, _DAY) / _DAY
  year = 2 * np.pi * tf.math.floormod(seconds, _YEAR) / _YEAR
  return {name: tf.cast(fn(angle), tf.float32) for name, fn, angle in (
      ('hour_sin', tf.sin, day), ('hour_cos', tf.cos, day), ('year_sin', tf.sin, year), ('year_cos', tf.cos, year))}


def vocabulary_name(feature: str) -> str:
  return f'{feature}_vocab'


# TFX Transform will call this function.
def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """Scales numeric windows, maps categorical windows to ids, scales the label like the target history.

  Args:
    inputs: raw window features: float [batch, W] per numeric feature, string [batch, W] per categorical
      feature, float [batch, 1] `label`.
    custom_config: `numeric_features`, `categorical_features` (feature keys), `target_feature` (the key of
      the target's history among the numeric features), `time_feature` (key of the rows' Unix times, or
      '' for no calendar features), `num_oov_buckets`.

  Returns:
    float [batch, W] z-scores per numeric feature, int64 [batch, W] ids per categorical feature, float
    [batch, W] CALENDAR_KEYS, float [batch] `label` in target z-score units, and float [batch] target scale
    and shift.
  """
  outputs = {}
  if custom_config['time_feature']:
    outputs.update(calendar_features(inputs[custom_config['time_feature']]))
  target = custom_config['target_feature']
  for key in custom_config['numeric_features']:
    if key != target:
      outputs[key] = tft.scale_to_z_score(tf.cast(inputs[key], tf.float32))
  for key in custom_config['categorical_features']:
    outputs[key] = tft.compute_and_apply_vocabulary(
        inputs[key], num_oov_buckets=int(custom_config['num_oov_buckets']),
        vocab_filename=vocabulary_name(key))

  history = tf.cast(inputs[target], tf.float32)
  mean = tft.mean(history)
  std = tf.sqrt(tft.var(history))
  std = tf.where(std > 0, std, tf.ones_like(std))  # a constant target would otherwise divide by zero
  outputs[target] = (history - mean) / std
  # Derived from the history (not the label) so they exist at serving time, when there is no label.
  zeros = tf.zeros_like(history[:, 0])
  outputs[TARGET_SCALE_KEY] = zeros + std
  outputs[TARGET_SHIFT_KEY] = zeros + mean
  outputs[LABEL_KEY] = (tf.reshape(tf.cast(inputs[LABEL_KEY], tf.float32), [-1]) - mean) / std
  return outputs
