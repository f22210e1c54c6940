"""EvalPredictions: the candidate model's answer for each eval example, kept for review.

TFMA writes aggregate metrics only; a reviewer also wants to look at examples (the most confident mistakes, the
worst translations, forecast against actual over time). This component calls the candidate's `serving_default` on
the raw eval examples, as serving would, and writes one columnar JSON file: the chosen raw features of every
example beside the model's answer. `records/report.py` reads it; nothing in the pipeline depends on it.
"""
import json
import os
from typing import Dict, List

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types.system_artifacts import Dataset as _SystemDataset

import components

PREDICTIONS_FILE = 'predictions.json'
PREDICTION_COLUMN = 'prediction'
_BATCH = 256


class Predictions(types.Artifact):
  """JSON: {split: {feature or 'prediction': [one value per example]}} (`predictions.json`)."""
  TYPE_NAME = components.PREDICTIONS
  TYPE_ANNOTATION = _SystemDataset


def _as_json_value(value):
  if isinstance(value, bytes):
    return value.decode('utf-8', errors='replace')
  if isinstance(value, (np.floating, float)):
    return float(value)
  if isinstance(value, (np.integer, int)):
    return int(value)
  return value


def _feature_value(example: tf.train.Example, key: str):
  """The example's single value of `key` (None when absent)."""
  feature = example.features.feature.get(key)
  kind = feature.WhichOneof('kind') if feature is not None else None
  values = list(getattr(feature, kind).value) if kind else []
  return _as_json_value(values[0]) if values else None


def predict_split(model_dir: str, files: List[str], features: List[str], prediction_key: str,
                  max_examples: int) -> Dict[str, list]:
  """Columns `features` + 'prediction' for the first `max_examples` examples of `files` (0: all)."""
  serving = tf.saved_model.load(model_dir).signatures['serving_default']
  columns = {name: [] for name in [*features, PREDICTION_COLUMN]}
  dataset = tf.data.TFRecordDataset(files, compression_type='GZIP')
  if max_examples > 0:
    dataset = dataset.take(max_examples)
  for batch in dataset.batch(_BATCH):
    answers = serving(examples=batch)[prediction_key].numpy()
    columns[PREDICTION_COLUMN] += [_as_json_value(np.asarray(a).reshape(-1)[0]) for a in answers]
    for serialized in batch.numpy():
      example = tf.train.Example.FromString(serialized)
      for name in features:
        columns[name].append(_feature_value(example, name))
  return columns


def read_predictions(predictions_uri: str) -> Dict[str, Dict[str, list]]:
  with tf.io.gfile.GFile(os.path.join(predictions_uri, PREDICTIONS_FILE)) as f:
    return json.load(f)


# TFX will run this function as the executor of the EvalPredictions component.
@component
def EvalPredictions(  # pylint: disable=invalid-name
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    predictions: OutputArtifact[Predictions],
    features: Parameter[str],
    prediction_key: Parameter[str],
    splits: Parameter[str] = 'eval',
    max_examples: Parameter[int] = 0,
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
) -> None:
  """Calls the candidate's serving_default on the raw examples of `splits`; writes predictions.json.

  Args:
    model: the Trainer's model (its Format-Serving SavedModel).
    examples: raw examples, as `serving_default` takes them.
    predictions: output; `predictions.json` with one column per feature plus 'prediction', per split.
    features: comma list of the raw features kept beside each answer (label, text, timestamp...).
    prediction_key: the serving output to keep (its first value per example).
    splits: comma list of splits of `examples`.
    max_examples: at most this many examples per split, in file order (0: all).
  """
  model_dir = os.path.join(model.uri, 'Format-Serving')
  wanted = [f for f in features.split(',') if f]
  result = {}
  for split in [s for s in splits.split(',') if s]:
    files = sorted(tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), '*')))
    result[split] = predict_split(model_dir, files, wanted, prediction_key, max_examples)
  with tf.io.gfile.GFile(os.path.join(predictions.uri, PREDICTIONS_FILE), 'w') as f:
    json.dump(result, f)
  predictions.set_int_custom_property('examples', sum(len(c[PREDICTION_COLUMN]) for c in result.values()))
