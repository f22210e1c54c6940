"""ForecastTestScore: scores the trained forecaster on the held-out test split after the push decision.

The blessing gate looks at the eval split only; the test split that TimeSeriesWindowGen writes (the latest
part of the time range) is looked at once, after Pusher, and reported beside eval. Model and persistence
(the last observed value) are scored on the same windows: windowing already dropped every window with a
missing value, so both see exactly the complete ones.
"""
import json
import os

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types.system_artifacts import Metrics as _SystemMetrics

import components

from components.windowing import LABEL_KEY
from components.windowing import PERSISTENCE_KEY
from components import metrics

SCORE_FILE = 'test_score.json'
_BATCH = 512


class TestScore(types.Artifact):
  """JSON metrics of a model on a held-out split: MAE, RMSE, persistence MAE/RMSE, forecast_skill, windows."""
  TYPE_NAME = components.TEST_SCORE
  TYPE_ANNOTATION = _SystemMetrics


def forecast_errors(forecasts: np.ndarray, labels: np.ndarray, persistence: np.ndarray) -> dict:
  """The Evaluator's forecast metrics (`components/metrics.py`) on these windows, and their count."""
  model_error, persistence_error = forecasts - labels, persistence - labels
  sums = metrics.ForecastSums(weight=float(labels.size), abs_error=float(np.sum(np.abs(model_error))),
                              sq_error=float(np.sum(model_error ** 2)),
                              persistence_abs_error=float(np.sum(np.abs(persistence_error))),
                              persistence_sq_error=float(np.sum(persistence_error ** 2)))
  return dict(metrics.forecast_values(sums), windows=int(labels.size))


def read_score(score_uri: str) -> dict:
  with tf.io.gfile.GFile(os.path.join(score_uri, SCORE_FILE)) as f:
    return json.load(f)


# TFX will run this function as the executor of the ForecastTestScore component.
@component
def ForecastTestScore(  # pylint: disable=invalid-name
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    score: OutputArtifact[TestScore],
    split: Parameter[str] = 'test',
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
) -> None:
  """Calls the model's serving_default on every window of `split`; writes test_score.json.

  Args:
    model: the Trainer's model (its Format-Serving SavedModel).
    examples: raw window examples from TimeSeriesWindowGen.
    score: output JSON (see `forecast_errors`), also as custom properties `mae`, `rmse`, `forecast_skill`,
      `windows`.
    split: which split to score.
  """
  files = sorted(tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), '*')))
  serving = tf.saved_model.load(os.path.join(model.uri, 'Format-Serving')).signatures['serving_default']
  spec = {LABEL_KEY: tf.io.FixedLenFeature([1], tf.float32), PERSISTENCE_KEY: tf.io.FixedLenFeature([1], tf.float32)}
  forecasts, labels, persistence = [], [], []
  for batch in tf.data.TFRecordDataset(files, compression_type='GZIP').batch(_BATCH):
    parsed = tf.io.parse_example(batch, spec)
    forecasts.append(serving(examples=batch)['forecast'].numpy().reshape(-1))
    labels.append(parsed[LABEL_KEY].numpy().reshape(-1))
    persistence.append(parsed[PERSISTENCE_KEY].numpy().reshape(-1))
  if not labels:
    raise ValueError(f'no {split} windows in {examples.uri}')
  result = dict(forecast_errors(np.concatenate(forecasts), np.concatenate(labels), np.concatenate(persistence)),
                split=split)
  with tf.io.gfile.GFile(os.path.join(score.uri, SCORE_FILE), 'w') as f:
    json.dump(result, f, indent=1, sort_keys=True)
  for name in (metrics.MAE, metrics.RMSE, metrics.FORECAST_SKILL):
    score.set_float_custom_property(name, result[name])
  score.set_int_custom_property('windows', result['windows'])
