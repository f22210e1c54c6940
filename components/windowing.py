"""TimeSeriesWindowGen: turns one-row-per-timestep examples into one example per forecast window.

Why a component and not tf.Transform: the Transform graph is also the serving graph, and a raw serving
window must map to exactly one model input (docs/design.md §4). So the re-framing happens here, in Beam, and
tf.Transform stays row-wise on windows.

What it does, per series (rows grouped by the series column, or one series):
  1. sorts rows by timestamp and rejects duplicate timestamps;
  2. finds the sampling step (configured, or the most common spacing) and every gap where the spacing
     differs from it; windows never span a gap (with gap_policy='fail' the first gap stops the run);
  3. emits one window per position: W input rows, the target H steps after the last input row;
  4. assigns each window to train / eval / test by time. A window belongs to a split only if all of its
     timestamps do, so windows straddling a boundary are dropped (a gap of W+H-1 steps per boundary);
  5. drops windows with a missing value in their inputs or target (counted in the report, never imputed).

Outputs: the windowed Examples (splits train/eval/test), the Schema of a window example, and a JSON
report (rows, windows per split, gaps, dropped windows) that the CLI summarises.
"""
import collections
import dataclasses
import datetime
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.dsl.component.experimental.annotations import BeamComponentParameter
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types.system_artifacts import Statistics as _SystemStatistics
from tfx.utils import io_utils

from components.data_contract import DataContractError
from components.data_contract import format_timestamp
from components.data_contract import parse_number
from components.data_contract import parse_timestamp
from components.window_config import LABEL_KEY  # noqa: F401  (re-exported: window example keys)
from components.window_config import PERSISTENCE_KEY
from components.window_config import SERIES_KEY
from components.window_config import SPLITS
from components.window_config import TARGET_HOUR_KEY
from components.window_config import TARGET_MONTH_KEY
from components.window_config import TARGET_TIMESTAMP_KEY
from components.window_config import WindowConfig
from components.window_config import feature_key

_MAX_LISTED = 20  # gaps and bad values listed in the report; the counts are always complete.


class WindowReport(types.Artifact):
  """JSON summary of a windowing run: rows, windows per split, gaps, dropped windows."""
  TYPE_NAME = 'TfxLstmWindowReport'
  TYPE_ANNOTATION = _SystemStatistics


# ----------------------------------------------------------------------------------------------------
# Parsing raw row values (the value parsers are the data contract's).

def _example_value(example: tf.train.Example, column: str):
  """First value of a feature, or None when the cell was empty."""
  feature = example.features.feature.get(column)
  if feature is None:
    return None
  kind = feature.WhichOneof('kind')
  values = getattr(feature, kind).value if kind else []
  return values[0] if len(values) else None


@dataclasses.dataclass
class Row:
  timestamp: int
  numeric: Tuple[float, ...]
  categorical: Tuple[str, ...]


def parse_row(example: tf.train.Example, config: WindowConfig) -> Tuple[str, Row]:
  """tf.Example of one CSV row -> (series id, Row). Raises DataContractError naming the bad cell."""
  stamp_value = _example_value(example, config.time_column)
  if stamp_value is None:
    raise DataContractError(f'empty value in time column {config.time_column!r}')
  timestamp = parse_timestamp(stamp_value)
  numeric = []
  for column in config.numeric_features:
    try:
      numeric.append(parse_number(_example_value(example, column)))
    except DataContractError as e:
      raise DataContractError(f'column {column!r} at {format_timestamp(timestamp)}: {e}') from None
  categorical = []
  for column in config.categorical_features:
    value = _example_value(example, column)
    categorical.append(value.decode('utf-8') if isinstance(value, bytes) else ('' if value is None else str(value)))
  series = ''
  if config.series_column:
    value = _example_value(example, config.series_column)
    series = value.decode('utf-8') if isinstance(value, bytes) else ('' if value is None else str(value))
  return series, Row(timestamp, tuple(numeric), tuple(categorical))


# ----------------------------------------------------------------------------------------------------
# Windowing one series (pure Python, unit-tested on hand-made series).

@dataclasses.dataclass(frozen=True)
class SplitBoundaries:
  eval_start: int
  test_start: int

  def split_of(self, first_timestamp: int, last_timestamp: int) -> Optional[str]:
    """The split holding every timestamp of a window, or None when the window straddles a boundary."""
    if last_timestamp < self.eval_start:
      return 'train'
    if first_timestamp >= self.eval_start and last_timestamp < self.test_start:
      return 'eval'
    if first_timestamp >= self.test_start:
      return 'test'
    return None


def boundaries_for(config: WindowConfig, first: int, last: int) -> SplitBoundaries:
  span = last - first
  eval_start = (parse_timestamp(config.eval_start) if config.eval_start
                else first + int(span * (1 - config.eval_fraction - config.test_fraction)))
  test_start = (parse_timestamp(config.test_start) if config.test_start
                else first + int(span * (1 - config.test_fraction)))
  if test_start < eval_start:
    which = 'the test start you gave' if config.test_start else f'the default test start (last {config.test_fraction:.0%} of the time range)'
    raise DataContractError(
        f'{which}, {format_timestamp(test_start)}, is before the eval start {format_timestamp(eval_start)}; '
        'set --test-start after --eval-start')
  return SplitBoundaries(eval_start, test_start)


@dataclasses.dataclass
class Window:
  split: str
  series: str
  inputs: List[Row]
  target_timestamp: int
  target_value: float


@dataclasses.dataclass
class SeriesReport:
  series: str
  rows: int = 0
  step_seconds: int = 0
  gaps: List[dict] = dataclasses.field(default_factory=list)
  windows: Dict[str, int] = dataclasses.field(default_factory=lambda: {s: 0 for s in SPLITS})
  dropped_incomplete: int = 0
  dropped_straddling: int = 0


def infer_step(timestamps: Sequence[int]) -> int:
  """Most common positive spacing (ties -> the smallest)."""
  diffs = collections.Counter(b - a for a, b in zip(timestamps, timestamps[1:]))
  if not diffs:
    raise DataContractError('a series needs at least two rows to infer its sampling step')
  return min(diffs.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def window_series(series: str, rows: Iterable[Row], config: WindowConfig,
                  boundaries: SplitBoundaries) -> Tuple[List[Window], SeriesReport]:
  """Sorts one series, finds gaps and cuts it into windows (see the module docstring)."""
  rows = sorted(rows, key=lambda r: r.timestamp)
  report = SeriesReport(series=series, rows=len(rows))
  if len(rows) <= config.window + config.horizon - 1:  # too short for a single window: nothing to cut
    return [], report
  for a, b in zip(rows, rows[1:]):
    if a.timestamp == b.timestamp:
      raise DataContractError(
          f'series {series or "(single)"} has two rows at {format_timestamp(a.timestamp)} UTC (local times with '
          'daylight saving repeat an hour: use UTC or an offset)')
  step = config.step_seconds or infer_step([r.timestamp for r in rows])
  report.step_seconds = step
  # Contiguous segments: a new segment starts wherever the spacing is not exactly one step.
  segments, start = [], 0
  for i in range(1, len(rows)):
    spacing = rows[i].timestamp - rows[i - 1].timestamp
    if spacing != step:
      report.gaps.append({
          'series': series,
          'after': format_timestamp(rows[i - 1].timestamp),
          'before': format_timestamp(rows[i].timestamp),
          'missing_steps': max(spacing // step - 1, 0),
          'spacing_seconds': spacing,
      })
      segments.append(rows[start:i])
      start = i
  segments.append(rows[start:])

  target_index = config.numeric_features.index(config.target)
  span = config.window + config.horizon - 1  # rows from the first input to the target, minus one
  windows = []
  for segment in segments:
    for first in range(len(segment) - span):
      inputs = segment[first:first + config.window]
      target_row = segment[first + span]
      split = boundaries.split_of(inputs[0].timestamp, target_row.timestamp)
      if split is None:
        report.dropped_straddling += 1
        continue
      target_value = target_row.numeric[target_index]
      complete = not math.isnan(target_value) and all(
          not math.isnan(v) for r in inputs for v in r.numeric) and all(
              c for r in inputs for c in r.categorical)
      if not complete:
        report.dropped_incomplete += 1
        continue
      report.windows[split] += 1
      windows.append(Window(split, series, inputs, target_row.timestamp, target_value))
  return windows, report


def window_to_example(window: Window, config: WindowConfig) -> tf.train.Example:
  # The input rows' times (Unix seconds) travel with the window: the model derives calendar features from them.
  features = {feature_key(config.time_column): tf.train.Feature(
      int64_list=tf.train.Int64List(value=[r.timestamp for r in window.inputs]))}
  for i, column in enumerate(config.numeric_features):
    features[feature_key(column)] = tf.train.Feature(
        float_list=tf.train.FloatList(value=[r.numeric[i] for r in window.inputs]))
  for i, column in enumerate(config.categorical_features):
    features[feature_key(column)] = tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[r.categorical[i].encode('utf-8') for r in window.inputs]))
  target_index = config.numeric_features.index(config.target)
  stamp = datetime.datetime.fromtimestamp(window.target_timestamp, datetime.timezone.utc)
  floats = {LABEL_KEY: window.target_value, PERSISTENCE_KEY: window.inputs[-1].numeric[target_index]}
  ints = {TARGET_TIMESTAMP_KEY: window.target_timestamp, TARGET_MONTH_KEY: stamp.month,
          TARGET_HOUR_KEY: stamp.hour}
  for key, value in floats.items():
    features[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
  for key, value in ints.items():
    features[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
  features[SERIES_KEY] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[window.series.encode('utf-8')]))
  return tf.train.Example(features=tf.train.Features(feature=features))


def window_schema(config: WindowConfig) -> schema_pb2.Schema:
  """Schema of a window example: fixed-length [W] inputs, scalar label and slicing fields."""
  schema = schema_pb2.Schema()

  def add(name, kind, length):
    feature = schema.feature.add(name=name, type=kind)
    feature.shape.dim.add(size=length)
    feature.presence.min_fraction = 1.0

  add(feature_key(config.time_column), schema_pb2.INT, config.window)
  for column in config.numeric_features:
    add(feature_key(column), schema_pb2.FLOAT, config.window)
  for column in config.categorical_features:
    add(feature_key(column), schema_pb2.BYTES, config.window)
  add(LABEL_KEY, schema_pb2.FLOAT, 1)
  add(PERSISTENCE_KEY, schema_pb2.FLOAT, 1)
  for key in (TARGET_TIMESTAMP_KEY, TARGET_MONTH_KEY, TARGET_HOUR_KEY):
    add(key, schema_pb2.INT, 1)
  add(SERIES_KEY, schema_pb2.BYTES, 1)
  return schema


def check_columns(row_schema: schema_pb2.Schema, config: WindowConfig, source: str) -> None:
  """Every configured column must exist in the rows' schema (inferred from the CSV header)."""
  present = [f.name for f in row_schema.feature]
  wanted = [config.time_column, *config.input_features] + ([config.series_column] if config.series_column else [])
  missing = [c for c in wanted if c not in present]
  if missing:
    raise DataContractError(
        f'column(s) {", ".join(map(repr, missing))} not found in {source}; the data has: {", ".join(present)}')


# ----------------------------------------------------------------------------------------------------
# Beam wiring.

class _ParseRows(beam.DoFn):
  """Serialized row examples -> (series, Row); unparseable rows go to the 'errors' output."""

  def __init__(self, config: WindowConfig):
    self._config = config

  def process(self, record: bytes):
    try:
      yield parse_row(tf.train.Example.FromString(record), self._config)
    except DataContractError as e:
      yield beam.pvalue.TaggedOutput('errors', str(e))


class _WindowSeries(beam.DoFn):
  """(series, rows) -> serialized windows tagged by split, plus the series report."""

  def __init__(self, config: WindowConfig):
    self._config = config

  def process(self, element, boundaries):
    series, rows = element
    try:
      windows, report = window_series(series, rows, self._config, boundaries)
    except DataContractError as e:
      yield beam.pvalue.TaggedOutput('errors', str(e))
      return
    for window in windows:
      yield beam.pvalue.TaggedOutput(window.split, window_to_example(window, self._config).SerializeToString())
    yield beam.pvalue.TaggedOutput('reports', dataclasses.asdict(report))


def _merge_reports(reports: List[dict]) -> dict:
  reports = sorted(reports, key=lambda r: r['series'])
  gaps = sorted((g for r in reports for g in r['gaps']), key=lambda g: (g['after'], g['series']))
  return {
      'series': len(reports),
      'rows': sum(r['rows'] for r in reports),
      'step_seconds': sorted({r['step_seconds'] for r in reports}),
      'windows': {s: sum(r['windows'][s] for r in reports) for s in SPLITS},
      'dropped_incomplete': sum(r['dropped_incomplete'] for r in reports),
      'dropped_straddling': sum(r['dropped_straddling'] for r in reports),
      'gap_count': len(gaps),
      'gaps': gaps[:_MAX_LISTED],
  }


# TFX will run this function as the executor of the TimeSeriesWindowGen component.
@component(use_beam=True)
def TimeSeriesWindowGen(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    schema: InputArtifact[standard_artifacts.Schema],
    windowed_examples: OutputArtifact[standard_artifacts.Examples],
    window_schema_out: OutputArtifact[standard_artifacts.Schema],
    report: OutputArtifact[WindowReport],
    window_config: Parameter[str],
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
    beam_pipeline: BeamComponentParameter[beam.Pipeline] = None,
) -> None:
  """Cuts one-row-per-timestep examples into chronologically split forecast windows.

  Args:
    examples: row examples from CsvExampleGen (every split is read; rows are regrouped by series).
    schema: the rows' schema from SchemaGen, used to check that every configured column exists.
    windowed_examples: output window examples with splits train/eval/test.
    window_schema_out: output schema of a window example (what Transform reads).
    report: output JSON report (report.json) of rows, windows, gaps and dropped windows.
    window_config: WindowConfig.to_json().
    beam_pipeline: provided by TFX with the pipeline's beam_pipeline_args.
  """
  config = WindowConfig.from_json(window_config)
  row_schema = io_utils.SchemaReader().read(os.path.join(schema.uri, 'schema.pbtxt'))
  check_columns(row_schema, config, source=f'the input CSV files ({examples.uri})')

  split_names = artifact_utils.decode_split_names(examples.split_names)
  patterns = [os.path.join(artifact_utils.get_split_uri([examples], s), '*') for s in split_names]
  scratch = os.path.join(report.uri, 'beam')
  with beam_pipeline as p:
    records = p | 'Splits' >> beam.Create(patterns) | 'Read' >> beam.io.ReadAllFromTFRecord()
    parsed = records | 'Parse' >> beam.ParDo(_ParseRows(config)).with_outputs('errors', main='rows')
    rows = parsed.rows
    bounds = (rows | 'Stamps' >> beam.Map(lambda kv: kv[1].timestamp)
              | 'Range' >> beam.CombineGlobally(_TimeRange())
              | 'Bounds' >> beam.Map(lambda r: boundaries_for(config, *r)))
    _ = bounds | 'WriteBounds' >> beam.Map(
        lambda b: _write_json({'eval_start': format_timestamp(b.eval_start),
                               'test_start': format_timestamp(b.test_start)},
                              os.path.join(scratch, 'boundaries.json')))
    windowed = (rows | 'BySeries' >> beam.GroupByKey()
                | 'Window' >> beam.ParDo(_WindowSeries(config), beam.pvalue.AsSingleton(bounds))
                .with_outputs('errors', 'reports', *SPLITS))
    for split in SPLITS:
      _ = windowed[split] | f'Write{split}' >> beam.io.WriteToTFRecord(
          os.path.join(windowed_examples.uri, f'Split-{split}', 'data_tfrecord'), file_name_suffix='.gz')
    _ = ((parsed.errors, windowed.errors) | 'Errors' >> beam.Flatten()
         | 'FirstErrors' >> beam.combiners.Sample.FixedSizeGlobally(_MAX_LISTED)
         | 'WriteErrors' >> beam.Map(_write_json, os.path.join(scratch, 'errors.json')))
    _ = (windowed.reports | 'AllReports' >> beam.combiners.ToList()
         | 'Merge' >> beam.Map(_merge_reports)
         | 'WriteReport' >> beam.Map(_write_json, os.path.join(scratch, 'report.json')))

  errors = sorted(_read_json(os.path.join(scratch, 'errors.json')))
  if errors:
    count = f'{len(errors)}+' if len(errors) >= _MAX_LISTED else str(len(errors))
    raise DataContractError(f'{count} bad row(s) in the input data; first: ' + '; '.join(errors[:3]))
  summary = _read_json(os.path.join(scratch, 'report.json'))
  summary['boundaries'] = _read_json(os.path.join(scratch, 'boundaries.json'))
  if config.gap_policy == 'fail' and summary['gap_count']:
    first = summary['gaps'][0]
    raise DataContractError(
        f"gap in series {first['series'] or '(single)'}: no rows between {first['after']} and {first['before']} "
        f"({first['missing_steps']} missing steps; {summary['gap_count']} gap(s) in all). "
        "Fill the missing rows or use --gap-policy drop to drop windows that would span gaps.")
  empty = [s for s in SPLITS if not summary['windows'][s]]
  if empty:
    raise DataContractError(
        f'no complete windows in split(s) {", ".join(empty)} (windows per split: {summary["windows"]}, '
        f'{summary["dropped_incomplete"]} dropped for missing values, {summary["gap_count"]} gaps). '
        'Provide more data, a shorter window, or other split boundaries.')

  windowed_examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
  io_utils.write_pbtxt_file(os.path.join(window_schema_out.uri, 'schema.pbtxt'), window_schema(config))
  _write_json(summary, os.path.join(report.uri, 'report.json'))


class _TimeRange(beam.CombineFn):
  """(first, last) timestamp over all rows."""

  def create_accumulator(self):
    return (math.inf, -math.inf)

  def add_input(self, acc, timestamp):
    return (min(acc[0], timestamp), max(acc[1], timestamp))

  def merge_accumulators(self, accs):
    accs = list(accs)
    return (min(a[0] for a in accs), max(a[1] for a in accs))

  def extract_output(self, acc):
    return (int(acc[0]), int(acc[1])) if acc[0] <= acc[1] else (0, 0)


def _write_json(value, path: str) -> None:
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(value, f, indent=1, sort_keys=True)


def _read_json(path: str):
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def read_report(report_uri: str) -> dict:
  """The report.json of a WindowReport artifact."""
  return _read_json(os.path.join(report_uri, 'report.json'))
