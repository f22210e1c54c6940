"""DataCheck: stops a run before windowing, Transform and the Trainer when its data is not fit to train on.

Three checks, all with TFDV on StatisticsGen's statistics of the `train` split:
  - anomalies: what ExampleValidator found against the fixed schema (the first blessed run's, or a curated
    schema.pbtxt);
  - drift: this run's data against the previous span's;
  - skew: this run's data against the data the latest blessed model was trained on.
Drift and skew use L-infinity distance for categorical (string) features and approximate Jensen-Shannon
divergence for numeric ones, with the task spec's thresholds (`pipeline/gates.py`, DataGate).

A failing check raises DataCheckFailed (a DataContractError: the CLI prints its message as is), naming every
feature, measure, value and threshold; nothing after it runs, so nothing is trained or pushed. A passing
check writes the same measurements as JSON for the run's report.
"""
import dataclasses
import json
import os
from typing import Dict, List, Optional

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.utils import anomalies_util
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.types.system_artifacts import Metrics as _SystemMetrics

import components

from core.data_contract import DataContractError
from core.names import SPANS_READ_PROPERTY

CHECK_FILE = 'data_check.json'
CHECKED_SPLIT = 'train'
_STATS_FILE, _ANOMALIES_FILE = 'FeatureStats.pb', 'SchemaDiff.pb'
_MEASURES = {'L_INFTY': 'L-infinity distance', 'JENSEN_SHANNON_DIVERGENCE': 'Jensen-Shannon divergence'}


class DataCheckFailed(DataContractError):
  """The run's data broke the schema, drifted or skewed past a threshold."""


class DataCheckResult(types.Artifact):
  """JSON: every anomaly, drift and skew measurement of a run's data and whether it passed."""
  TYPE_NAME = components.DATA_CHECK_RESULT
  TYPE_ANNOTATION = _SystemMetrics


def read_check(uri: str) -> dict:
  with tf.io.gfile.GFile(os.path.join(uri, CHECK_FILE)) as f:
    return json.load(f)


def _split_file(uri: str, split: str, name: str) -> Optional[str]:
  path = os.path.join(uri, f'Split-{split}', name)
  return path if tf.io.gfile.exists(path) else None


def _statistics(artifact: types.Artifact, split: str) -> Optional[statistics_pb2.DatasetFeatureStatisticsList]:
  path = _split_file(artifact.uri, split, _STATS_FILE)
  return tfdv.load_stats_binary(path) if path else None


def with_comparators(schema: schema_pb2.Schema, max_categorical_linf: float,
                     max_numeric_jsd: float) -> schema_pb2.Schema:
  """A copy of `schema` whose every feature has a drift and a skew comparator: L-infinity for strings,
  Jensen-Shannon divergence for numbers."""
  schema = schema_pb2.Schema.FromString(schema.SerializeToString())
  for feature in schema.feature:
    for comparator in (feature.drift_comparator, feature.skew_comparator):
      comparator.Clear()
      if feature.type == schema_pb2.BYTES:
        comparator.infinity_norm.threshold = max_categorical_linf
      else:
        comparator.jensen_shannon_divergence.threshold = max_numeric_jsd
  return schema


def measurements(anomalies, kind: str, against: str) -> List[Dict[str, object]]:
  """The drift or skew measurements TFDV took, one per feature and measure."""
  found = []
  for info in anomalies.drift_skew_info:
    feature = '.'.join(info.path.step)
    for m in (info.drift_measurements if kind == 'drift' else info.skew_measurements):
      measure = _MEASURES.get(m.Type.Name(m.type), m.Type.Name(m.type))
      found.append({'kind': kind, 'feature': feature, 'measure': measure, 'value': float(m.value),
                    'threshold': float(m.threshold), 'against': against, 'failed': m.value > m.threshold})
  return found


@dataclasses.dataclass
class Anomaly:
  split: str
  feature: str  # '' for the whole dataset
  severity: str
  short: str
  description: str


def read_anomalies(anomalies_uri: str) -> List[Anomaly]:
  """Every anomaly ExampleValidator found, per split, from its SchemaDiff.pb files."""
  found = []
  for entry in sorted(tf.io.gfile.listdir(anomalies_uri)):
    split = entry.rstrip('/').removeprefix('Split-')
    path = _split_file(anomalies_uri, split, _ANOMALIES_FILE)
    if path is None:
      continue
    result = anomalies_util.load_anomalies_binary(path)
    infos = list(result.anomaly_info.items())
    if result.HasField('dataset_anomaly_info'):
      infos.append(('', result.dataset_anomaly_info))
    for feature, info in sorted(infos):
      found.append(Anomaly(split, feature, info.Severity.Name(info.severity), info.short_description,
                           info.description))
  return found


def failure_message(result: dict) -> str:
  lines = [f"the data check stopped the run before training ({result['data']}):"]
  for a in result['anomalies']:
    lines.append(f"  anomaly in {'feature ' + repr(a['feature']) if a['feature'] else 'the dataset'} ({a['split']} split): "
                 f"{a['description']}")
  for m in result['measurements']:
    if m['failed']:
      lines.append(f"  {m['kind']} in feature {m['feature']!r}: {m['measure']} {m['value']:.3f} against "
                   f"{m['against']} is above the threshold {m['threshold']:g}")
  if any(m['failed'] for m in result['measurements']):
    lines.append('if the change is expected, run again with a higher --max-categorical-drift / --max-numeric-drift')
  if result['anomalies']:
    lines.append('if the data is right, curate the schema and pass it with --schema FILE')
  return '\n'.join(lines)


def _data_name(examples: types.Artifact) -> str:
  """'span 3', 'spans 1-3', or "this run's data" without span folders."""
  spans = [int(s) for s in examples.get_string_custom_property(SPANS_READ_PROPERTY).split(',') if s]
  if not spans:
    return 'this run\'s data'
  return f'span {spans[0]}' if len(spans) == 1 else f'spans {spans[0]}-{spans[-1]}'


# TFX will run this function as the executor of the DataCheck component.
@component
def DataCheck(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    schema: InputArtifact[standard_artifacts.Schema],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    result: OutputArtifact[DataCheckResult],
    previous_statistics: InputArtifact[standard_artifacts.ExampleStatistics] = None,
    served_statistics: InputArtifact[standard_artifacts.ExampleStatistics] = None,
    max_categorical_linf: Parameter[float] = 0.2,
    max_numeric_jsd: Parameter[float] = 0.2,
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
) -> None:
  """Checks the run's data (see the module docstring); raises DataCheckFailed, or writes data_check.json.

  Args:
    examples: ExampleGen's output for this run (which spans it holds).
    statistics: StatisticsGen's output for this run.
    schema: the fixed schema the data is held to.
    anomalies: ExampleValidator's output (this run's statistics against `schema`).
    result: where the measurements are written when the data passes.
    previous_statistics: statistics of the previous span (drift); absent on the first span.
    served_statistics: statistics of the data the latest blessed model learned from (skew); absent before
      the first blessing.
    max_categorical_linf: drift and skew threshold of string features.
    max_numeric_jsd: drift and skew threshold of numeric features.
    code: unused (cache key).
  """
  del code
  current = _statistics(statistics, CHECKED_SPLIT)
  if current is None:
    raise ValueError(f'no {CHECKED_SPLIT} split statistics under {statistics.uri}')
  checked_schema = with_comparators(tfdv.load_schema_text(os.path.join(schema.uri, 'schema.pbtxt')),
                                    max_categorical_linf, max_numeric_jsd)
  found = []
  # Each reference's statistics read once; an absent reference (first span, no blessing yet) is skipped.
  previous = _statistics(previous_statistics, CHECKED_SPLIT) if previous_statistics is not None else None
  served = _statistics(served_statistics, CHECKED_SPLIT) if served_statistics is not None else None
  if previous is not None:
    drift = tfdv.validate_statistics(current, checked_schema, previous_statistics=previous)
    found += measurements(drift, 'drift', 'the previous span')
  if served is not None:
    # TFDV's skew is serving data against training data: this run's data plays serving.
    skew = tfdv.validate_statistics(served, checked_schema, serving_statistics=current)
    found += measurements(skew, 'skew', 'the served model\'s training data')
  outcome = {
      'data': _data_name(examples),
      'split': CHECKED_SPLIT,
      'anomalies': [dataclasses.asdict(a) for a in read_anomalies(anomalies.uri)],
      'measurements': found,
      'thresholds': {'categorical L-infinity': max_categorical_linf, 'numeric Jensen-Shannon': max_numeric_jsd},
  }
  outcome['passed'] = not outcome['anomalies'] and not any(m['failed'] for m in found)
  if not outcome['passed']:
    raise DataCheckFailed(failure_message(outcome))
  with tf.io.gfile.GFile(os.path.join(result.uri, CHECK_FILE), 'w') as f:
    json.dump(outcome, f, indent=1, sort_keys=True)
