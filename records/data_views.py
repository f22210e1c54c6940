"""StatisticsGen and ExampleValidator artifacts read back with TFDV's own loaders: a per-feature summary per split
and every anomaly."""
import dataclasses
import os
from typing import Dict, List, Optional

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

# ExampleValidator's anomalies: read by the data check, which stops a run on them, and shown in reports.
from components.data_check import read_anomalies as anomalies  # noqa: F401

STATS_FILE = 'FeatureStats.pb'


@dataclasses.dataclass
class FeatureSummary:
  name: str
  kind: str  # 'numeric' or 'string'
  count: int  # examples with a value
  missing: int
  numbers: Dict[str, float]  # mean, std dev, min, max (numeric features)
  top_values: List[str]  # the most frequent values with their counts (string features)
  unique: int


def _split_dirs(uri: str) -> Dict[str, str]:
  splits = {}
  for entry in sorted(tf.io.gfile.listdir(uri)):
    entry = entry.rstrip('/')
    if entry.startswith('Split-'):
      splits[entry[len('Split-'):]] = os.path.join(uri, entry)
  return splits


def _shortened(text: str, limit: int = 60) -> str:
  return text if len(text) <= limit else text[:limit - 1] + '…'


def _summarise(feature: statistics_pb2.FeatureNameStatistics) -> FeatureSummary:
  name = feature.path.step[-1] if feature.path.step else feature.name
  if feature.HasField('num_stats'):
    stats = feature.num_stats
    common = stats.common_stats
    return FeatureSummary(name, 'numeric', int(common.num_non_missing), int(common.num_missing),
                          {'mean': stats.mean, 'std dev': stats.std_dev, 'min': stats.min, 'max': stats.max}, [], 0)
  stats = feature.string_stats
  common = stats.common_stats
  top = [f'{_shortened(v.value)} ({int(v.frequency):,})' for v in stats.top_values[:5]]
  return FeatureSummary(name, 'string', int(common.num_non_missing), int(common.num_missing), {}, top,
                        int(stats.unique))


def feature_summaries(statistics_uri: str) -> Dict[str, Dict[str, object]]:
  """Split -> {'examples': count, 'features': [FeatureSummary]} from StatisticsGen's FeatureStats.pb files."""
  result = {}
  for split, directory in _split_dirs(statistics_uri).items():
    path = os.path.join(directory, STATS_FILE)
    if not tf.io.gfile.exists(path):
      continue
    dataset = tfdv.load_stats_binary(path).datasets[0]
    result[split] = {'examples': int(dataset.num_examples),
                     'features': [_summarise(f) for f in dataset.features]}
  return result


def example_counts(statistics_uri: str) -> Dict[str, int]:
  return {split: summary['examples'] for split, summary in feature_summaries(statistics_uri).items()}



def spans_read(record) -> str:
  """'span 3' or 'spans 1-3 (newest 3)' from ExampleGen's examples; '' without span folders."""
  from components.text_example_gen import SPANS_READ_PROPERTY  # pylint: disable=g-import-not-at-top
  from records.run_record import artifact_property  # pylint: disable=g-import-not-at-top
  examples = record.node_output('FileBasedExampleGen', 'examples')
  spans = [s for s in str(artifact_property(examples, SPANS_READ_PROPERTY) or '').split(',') if s]
  if not spans:
    return ''
  return f'span {spans[0]}' if len(spans) == 1 else f'spans {spans[0]}-{spans[-1]} ({len(spans)} spans)'


def data_check(record) -> Optional[dict]:
  """The data check's measurements (a run whose data passed it), or None."""
  from components.data_check import read_check  # pylint: disable=g-import-not-at-top
  artifact = record.node_output('DataCheck', 'result')
  return read_check(artifact.uri) if artifact is not None else None


def data_check_in_words(check: dict) -> str:
  """'passed: no anomalies; drift vs the previous span at most 0.012 (text, L-infinity distance); ...'."""
  parts = ['passed: no anomalies']
  for kind, against in (('drift', 'the previous span'), ('skew', "the served model's training data")):
    found = [m for m in check['measurements'] if m['kind'] == kind]
    if not found:
      parts.append(f'no {kind} check ({"first span" if kind == "drift" else "no blessed model yet"})')
      continue
    worst = max(found, key=lambda m: m['value'] / m['threshold'] if m['threshold'] else m['value'])
    parts.append(f"{kind} vs {against} at most {worst['value']:.3f} of {worst['threshold']:g} "
                 f"({worst['feature']}, {worst['measure']})")
  return '; '.join(parts)
