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

`window_series` does all of this for one series in memory; it is the reference. The Beam pipeline does the
same block-wise, so that no worker holds a whole series (see "Block-wise windowing" below): memory is bounded
by the block size and the window, and the output is the same, example for example.

Outputs: the windowed Examples (splits train/eval/test), the Schema of a window example, and a JSON
report (rows, windows per split, gaps, dropped windows) that the CLI summarises.
"""
import collections
import dataclasses
import datetime
import functools
import heapq
import json
import math
import os
import struct
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

import components
from core.data_contract import DataContractError
from core.data_contract import format_timestamp
from core.data_contract import parse_number
from core.data_contract import parse_timestamp
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
DEFAULT_BLOCK_STEPS = 4096  # time steps per block of the block-wise windowing (0: whole series, the reference)
# Rows in each group one DoFn call holds (a block and its context, or a whole series): what bounds its memory.
_ROWS_PER_GROUP = beam.metrics.Metrics.distribution('TimeSeriesWindowGen', 'rows_per_group')


class WindowReport(types.Artifact):
  """JSON summary of a windowing run: rows, windows per split, gaps, dropped windows."""
  TYPE_NAME = components.WINDOW_REPORT
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
  gap_count: int = 0  # every gap; the block-wise path lists only the first _MAX_LISTED in `gaps`


def _most_common(counts: Dict[int, int]) -> int:
  """The spacing seen most often (ties -> the smallest)."""
  return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def infer_step(timestamps: Sequence[int]) -> int:
  """Most common positive spacing (ties -> the smallest)."""
  diffs = collections.Counter(b - a for a, b in zip(timestamps, timestamps[1:]))
  if not diffs:
    raise DataContractError('a series needs at least two rows to infer its sampling step')
  return _most_common(diffs)


def _duplicate_error(series: str, timestamp: int) -> str:
  return (f'series {series or "(single)"} has two rows at {format_timestamp(timestamp)} UTC (local times with '
          'daylight saving repeat an hour: use UTC or an offset)')


def _gap(series: str, after: int, spacing: int, step: int) -> dict:
  return {'series': series, 'after': format_timestamp(after), 'before': format_timestamp(after + spacing),
          'missing_steps': max(spacing // step - 1, 0), 'spacing_seconds': spacing}


def _missing_before(rows: Sequence[Row]) -> List[int]:
  """[i] = how many of rows[:i] have a missing value (a NaN number or an empty category)."""
  counts = [0]
  for r in rows:
    counts.append(counts[-1] + (any(math.isnan(v) for v in r.numeric) or not all(r.categorical)))
  return counts


def _cut_window(series: str, rows: Sequence[Row], first: int, missing_before: Sequence[int], config: WindowConfig,
                boundaries: SplitBoundaries, report: SeriesReport) -> Optional[Window]:
  """The window whose first input is rows[first] (rows[first:first+W+H] are one step apart), or None when it is
  dropped; counts it in `report` either way. missing_before: _missing_before(rows)."""
  target_row = rows[first + config.window + config.horizon - 1]
  split = boundaries.split_of(rows[first].timestamp, target_row.timestamp)
  if split is None:
    report.dropped_straddling += 1
    return None
  target_value = target_row.numeric[config.numeric_features.index(config.target)]
  if math.isnan(target_value) or missing_before[first + config.window] != missing_before[first]:
    report.dropped_incomplete += 1
    return None
  report.windows[split] += 1
  return Window(split, series, rows[first:first + config.window], target_row.timestamp, target_value)


def window_series(series: str, rows: Iterable[Row], config: WindowConfig,
                  boundaries: SplitBoundaries) -> Tuple[List[Window], SeriesReport]:
  """Sorts one series, finds gaps and cuts it into windows (see the module docstring)."""
  rows = sorted(rows, key=lambda r: r.timestamp)
  report = SeriesReport(series=series, rows=len(rows))
  if len(rows) <= config.window + config.horizon - 1:  # too short for a single window: nothing to cut
    return [], report
  for a, b in zip(rows, rows[1:]):
    if a.timestamp == b.timestamp:
      raise DataContractError(_duplicate_error(series, a.timestamp))
  step = config.step_seconds or infer_step([r.timestamp for r in rows])
  report.step_seconds = step
  # Contiguous segments [start, end): a new segment starts wherever the spacing is not exactly one step.
  segments, start = [], 0
  for i in range(1, len(rows)):
    spacing = rows[i].timestamp - rows[i - 1].timestamp
    if spacing != step:
      report.gaps.append(_gap(series, rows[i - 1].timestamp, spacing, step))
      segments.append((start, i))
      start = i
  segments.append((start, len(rows)))
  report.gap_count = len(report.gaps)

  span = config.window + config.horizon - 1  # rows from the first input to the target, minus one
  missing_before = _missing_before(rows)
  windows = []
  for start, end in segments:
    for first in range(start, end - span):
      window = _cut_window(series, rows, first, missing_before, config, boundaries, report)
      if window is not None:
        windows.append(window)
  return windows, report


@functools.lru_cache(maxsize=8)
def _example_keys(config: WindowConfig) -> Tuple[str, Tuple[str, ...], Tuple[str, ...]]:
  return (feature_key(config.time_column), tuple(map(feature_key, config.numeric_features)),
          tuple(map(feature_key, config.categorical_features)))


def window_to_example(window: Window, config: WindowConfig) -> tf.train.Example:
  # Filled in place, column by column, with the keys worked out once: this runs once per window.
  time_key, numeric_keys, categorical_keys = _example_keys(config)
  example = tf.train.Example()
  feature = example.features.feature
  # The input rows' times (Unix seconds) travel with the window: the model derives calendar features from them.
  feature[time_key].int64_list.value.extend([r.timestamp for r in window.inputs])
  for key, values in zip(numeric_keys, zip(*(r.numeric for r in window.inputs))):
    feature[key].float_list.value.extend(values)
  for key, values in zip(categorical_keys, zip(*(r.categorical for r in window.inputs))):
    feature[key].bytes_list.value.extend([v.encode('utf-8') for v in values])
  target_index = config.numeric_features.index(config.target)
  stamp = datetime.datetime.fromtimestamp(window.target_timestamp, datetime.timezone.utc)
  feature[LABEL_KEY].float_list.value.append(window.target_value)
  feature[PERSISTENCE_KEY].float_list.value.append(window.inputs[-1].numeric[target_index])
  feature[TARGET_TIMESTAMP_KEY].int64_list.value.append(window.target_timestamp)
  feature[TARGET_MONTH_KEY].int64_list.value.append(stamp.month)
  feature[TARGET_HOUR_KEY].int64_list.value.append(stamp.hour)
  feature[SERIES_KEY].bytes_list.value.append(window.series.encode('utf-8'))
  return example


def serialize_window(window: Window, config: WindowConfig) -> bytes:
  # Deterministic: features are a map, whose entries are otherwise written in no fixed order; this way the same
  # window is the same bytes, whichever path or run wrote it.
  return window_to_example(window, config).SerializeToString(deterministic=True)


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
  """Reference path (block_steps=0): (series, all its rows) -> serialized windows by split, the series report."""

  def __init__(self, config: WindowConfig):
    self._config = config

  def process(self, element, boundaries):
    series, rows = element
    rows = list(rows)
    _ROWS_PER_GROUP.update(len(rows))
    try:
      windows, report = window_series(series, rows, self._config, boundaries)
    except DataContractError as e:
      yield beam.pvalue.TaggedOutput('errors', str(e))
      return
    for window in windows:
      yield beam.pvalue.TaggedOutput(window.split, serialize_window(window, self._config))
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
      'gap_count': sum(r['gap_count'] for r in reports),
      'gaps': gaps[:_MAX_LISTED],
  }


# ----------------------------------------------------------------------------------------------------
# Block-wise windowing: window_series's windows and report without a whole series in one place.
#
# Pass 2 (the windows). Time is cut into blocks of `block_steps` sampling steps per series (block index =
# timestamp // (block_steps * step)). A window is emitted by the block holding its target row. That block also
# gets, as context, the rows of the W+H-1 steps before its start: a window's rows are consecutive rows one step
# apart, so they all lie within W+H-1 steps before its target. A block holds block_steps + W+H-1 rows (more
# only where rows come faster than the step), whatever the length of the series.
#
# Pass 1 (step, gaps, duplicates), before it: the step must be known to cut the blocks, and a block cannot see
# the spacing before its first row. So a first pass over timestamps alone (on a grid of block_steps mean
# spacings) counts per block every spacing with its first _MAX_LISTED occurrences, and notes each block's
# first and last timestamp, from which the spacings between blocks follow. Per series, the counts give the step
# (the most common spacing, as infer_step), the gap count (all other spacings) and the first gaps (the earliest
# occurrences of those spacings). Duplicate rows share a timestamp, hence a block, so each block finds its own.
# What is kept per series is one (first, last) pair per block and one count per distinct spacing, not rows.

def _add_spacing(histogram: dict, spacing: int, after: int) -> None:
  """Counts one spacing; keeps its first _MAX_LISTED occurrences (added in time order)."""
  entry = histogram.get(spacing)
  if entry is None:
    histogram[spacing] = [1, [after]]
  else:
    entry[0] += 1
    if len(entry[1]) < _MAX_LISTED:
      entry[1].append(after)


class _MergeSpacings(beam.CombineFn):
  """Per series: {spacing: [count, first timestamps after which it occurs]} summed over blocks."""

  def create_accumulator(self):
    return {}

  def add_input(self, acc, histogram):
    for spacing, (count, afters) in histogram.items():
      entry = acc.get(spacing)
      if entry is None:
        acc[spacing] = [count, list(afters)]
      else:
        entry[0] += count
        entry[1] = heapq.nsmallest(_MAX_LISTED, entry[1] + afters)
    return acc

  def merge_accumulators(self, accs):
    merged = {}
    for acc in accs:
      self.add_input(merged, acc)
    return merged

  def extract_output(self, acc):
    return acc


class _SeriesStats(beam.CombineFn):
  """(rows, first timestamp, last timestamp) of a series."""

  def create_accumulator(self):
    return (0, math.inf, -math.inf)

  def add_input(self, acc, timestamp):
    return (acc[0] + 1, min(acc[1], timestamp), max(acc[2], timestamp))

  def merge_accumulators(self, accs):
    accs = list(accs)
    return (sum(a[0] for a in accs), min(a[1] for a in accs), max(a[2] for a in accs))

  def extract_output(self, acc):
    return acc


def _scan_grid(element, config: WindowConfig, block_steps: int):
  """(series, stats) -> (series, pass-1 block width in seconds), for series long enough for a window."""
  series, (count, first, last) = element
  if count > config.window + config.horizon - 1:  # shorter series are not checked, as in window_series
    spacing = config.step_seconds or max(1, (last - first) // (count - 1))
    yield series, block_steps * spacing


def _key_stamps(element, widths):
  series, timestamp = element
  width = widths.get(series)
  if width:
    yield (series, timestamp // width), timestamp


def _scan_block(element):
  """((series, block), timestamps) -> the block's spacings, first and last timestamp, first duplicate."""
  (series, block), stamps = element
  stamps = sorted(stamps)
  histogram, duplicate = {}, None
  for a, b in zip(stamps, stamps[1:]):
    if a == b and duplicate is None:
      duplicate = a
    _add_spacing(histogram, b - a, a)
  if histogram:
    yield beam.pvalue.TaggedOutput('spacings', (series, histogram))
  yield beam.pvalue.TaggedOutput('edges', (series, (block, stamps[0], stamps[-1])))
  if duplicate is not None:
    yield beam.pvalue.TaggedOutput('duplicates', (series, duplicate))


def _spacings_between_blocks(element):
  series, edges = element
  histogram = {}
  edges = sorted(edges)
  for (_, _, last), (_, first, _) in zip(edges, edges[1:]):
    _add_spacing(histogram, first - last, last)
  if histogram:
    yield series, histogram


def _plan_series(element, config: WindowConfig) -> dict:
  """Per series: rows, step, gaps (count and the first _MAX_LISTED) or the error, as window_series finds them."""
  series, grouped = element
  ((count, _, _),) = grouped['stats']
  plan = {'series': series, 'rows': count, 'step_seconds': 0, 'gap_count': 0, 'gaps': [], 'error': None}
  if count <= config.window + config.horizon - 1:
    return plan
  if grouped['duplicates']:
    plan['error'] = _duplicate_error(series, min(grouped['duplicates']))
    return plan
  (histogram,) = grouped['spacings']
  step = config.step_seconds or _most_common({spacing: c for spacing, (c, _) in histogram.items()})
  gaps = sorted((after, spacing) for spacing, (_, afters) in histogram.items() if spacing != step
                for after in afters)[:_MAX_LISTED]
  plan.update(step_seconds=step, gap_count=sum(c for spacing, (c, _) in histogram.items() if spacing != step),
              gaps=[_gap(series, after, spacing, step) for after, spacing in gaps])
  return plan


def pack_row(row: Row) -> bytes:
  """A Row as compact bytes for the shuffle: the timestamp and the numbers as 8-byte binary values, each
  category length-prefixed. A Row object through Beam's shuffle costs about 0.8 KB (its pickle names the class
  and fields); these bytes cost their length (bench/README.md, windowing)."""
  categorical = [value.encode('utf-8') for value in row.categorical]
  return b''.join([struct.pack(f'<q{len(row.numeric)}d', row.timestamp, *row.numeric),
                   *(struct.pack('<I', len(value)) + value for value in categorical)])


def unpack_row(packed: bytes, numeric: int, categorical: int) -> Row:
  """pack_row's inverse, for a row of `numeric` numbers and `categorical` categories."""
  head = struct.calcsize(f'<q{numeric}d')
  timestamp, *numbers = struct.unpack_from(f'<q{numeric}d', packed)
  values, offset = [], head
  for _ in range(categorical):
    (length,) = struct.unpack_from('<I', packed, offset)
    values.append(packed[offset + 4:offset + 4 + length].decode('utf-8'))
    offset += 4 + length
  return Row(timestamp, tuple(numbers), tuple(values))


def _key_rows(element, steps, block_steps: int, span: int):
  """(series, Row) -> ((series, block), packed Row) for its own block and as context of the blocks starting
  within `span` steps after it."""
  series, row = element
  step = steps.get(series)
  if step:  # None: too short for a window, or rejected
    width = block_steps * step
    block = row.timestamp // width
    packed = pack_row(row)
    yield (series, block), packed
    for later in range(block + 1, (row.timestamp + span * step) // width + 1):
      yield (series, later), packed


class _WindowBlock(beam.DoFn):
  """((series, block), its rows and context rows) -> the windows whose target is in the block, and counts."""

  def __init__(self, config: WindowConfig, block_steps: int):
    self._config = config
    self._block_steps = block_steps

  def process(self, element, boundaries, steps):
    (series, block), rows = element
    config, step = self._config, steps[series]
    span = config.window + config.horizon - 1
    start = block * self._block_steps * step
    numeric, categorical = len(config.numeric_features), len(config.categorical_features)
    rows = sorted((unpack_row(packed, numeric, categorical) for packed in rows), key=lambda r: r.timestamp)
    _ROWS_PER_GROUP.update(len(rows))
    missing_before = _missing_before(rows)
    report = SeriesReport(series=series)
    run = 0  # how many spacings of exactly one step end at row i: a window needs `span` of them
    for i, row in enumerate(rows):
      run = run + 1 if i and row.timestamp - rows[i - 1].timestamp == step else 0
      if run >= span and row.timestamp >= start:  # rows before `start` are context, targets of earlier blocks
        window = _cut_window(series, rows, i - span, missing_before, config, boundaries, report)
        if window is not None:
          yield beam.pvalue.TaggedOutput(window.split, serialize_window(window, config))
    counts = (*(report.windows[s] for s in SPLITS), report.dropped_incomplete, report.dropped_straddling)
    if any(counts):
      yield beam.pvalue.TaggedOutput('counts', (series, counts))


def _sum_counts(counts):
  return tuple(map(sum, zip(*counts)))


def _series_report(element):
  series, grouped = element
  (plan,) = grouped['plan']
  if plan['error']:
    return
  counts = grouped['counts'][0] if grouped['counts'] else (0,) * (len(SPLITS) + 2)
  yield dataclasses.asdict(SeriesReport(
      series=series, rows=plan['rows'], step_seconds=plan['step_seconds'], gaps=plan['gaps'],
      windows=dict(zip(SPLITS, counts)), dropped_incomplete=counts[-2], dropped_straddling=counts[-1],
      gap_count=plan['gap_count']))


class WindowRows(beam.PTransform):
  """(series, Row) -> {'train', 'eval', 'test': serialized window examples, 'errors': messages, 'report': the
  merged report (one dict)}.

  block_steps > 0: block-wise (above). 0: each series as one group through window_series, the reference, whose
  memory grows with the series.
  """

  def __init__(self, config: WindowConfig, boundaries: beam.PCollection, block_steps: int = DEFAULT_BLOCK_STEPS):
    super().__init__()
    if block_steps < 0:
      raise ValueError(f'block_steps must be >= 0, not {block_steps}')
    self._config, self._boundaries, self._block_steps = config, boundaries, block_steps

  def expand(self, rows):
    config, block_steps = self._config, self._block_steps
    bounds = beam.pvalue.AsSingleton(self._boundaries)
    if not block_steps:
      windowed = (rows | 'BySeries' >> beam.GroupByKey()
                  | 'Window' >> beam.ParDo(_WindowSeries(config), bounds).with_outputs('errors', 'reports', *SPLITS))
      reports, errors = windowed.reports, windowed.errors
    else:
      # Pass 1: timestamps only.
      stamps = rows | 'Stamps' >> beam.Map(lambda kv: (kv[0], kv[1].timestamp))
      stats = stamps | 'SeriesStats' >> beam.CombinePerKey(_SeriesStats())
      grid = stats | 'ScanGrid' >> beam.FlatMap(_scan_grid, config, block_steps)
      scanned = (stamps | 'KeyStamps' >> beam.FlatMap(_key_stamps, beam.pvalue.AsDict(grid))
                 | 'StampBlocks' >> beam.GroupByKey()
                 | 'ScanBlocks' >> beam.FlatMap(_scan_block).with_outputs('spacings', 'edges', 'duplicates'))
      between = (scanned.edges | 'EdgesBySeries' >> beam.GroupByKey()
                 | 'BetweenBlocks' >> beam.FlatMap(_spacings_between_blocks))
      spacings = ((scanned.spacings, between) | 'AllSpacings' >> beam.Flatten()
                  | 'MergeSpacings' >> beam.CombinePerKey(_MergeSpacings()))
      duplicates = scanned.duplicates | 'FirstDuplicate' >> beam.CombinePerKey(min)
      plans = ({'stats': stats, 'spacings': spacings, 'duplicates': duplicates} | 'JoinScan' >> beam.CoGroupByKey()
               | 'Plan' >> beam.Map(_plan_series, config))
      steps = beam.pvalue.AsDict(plans | 'Steps' >> beam.FlatMap(
          lambda plan: [(plan['series'], plan['step_seconds'])] if plan['step_seconds'] and not plan['error'] else []))
      errors = plans | 'Rejected' >> beam.FlatMap(lambda plan: [plan['error']] if plan['error'] else [])
      # Pass 2: the windows, block by block.
      windowed = (rows | 'KeyRows' >> beam.FlatMap(_key_rows, steps, block_steps, config.window + config.horizon - 1)
                  | 'RowBlocks' >> beam.GroupByKey()
                  | 'WindowBlocks' >> beam.ParDo(_WindowBlock(config, block_steps), bounds, steps)
                  .with_outputs('counts', *SPLITS))
      counts = windowed.counts | 'SumCounts' >> beam.CombinePerKey(_sum_counts)
      reports = ({'plan': plans | 'PlanBySeries' >> beam.Map(lambda plan: (plan['series'], plan)), 'counts': counts}
                 | 'JoinCounts' >> beam.CoGroupByKey() | 'SeriesReports' >> beam.FlatMap(_series_report))
    report = reports | 'AllReports' >> beam.combiners.ToList() | 'Merge' >> beam.Map(_merge_reports)
    return {**{split: windowed[split] for split in SPLITS}, 'errors': errors, 'report': report}


def windowing_pipeline(p: beam.Pipeline, patterns: Sequence[str], config: WindowConfig, windowed_uri: str,
                       scratch: str, block_steps: int = DEFAULT_BLOCK_STEPS) -> None:
  """The component's Beam pipeline: row examples (TFRecord files matching `patterns`) -> window examples under
  `windowed_uri`/Split-<split>/, and boundaries.json, errors.json (first _MAX_LISTED) and report.json in
  `scratch`."""
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
  windowed = rows | 'Windows' >> WindowRows(config, bounds, block_steps)
  for split in SPLITS:
    _ = windowed[split] | f'Write{split}' >> beam.io.WriteToTFRecord(
        os.path.join(windowed_uri, f'Split-{split}', 'data_tfrecord'), file_name_suffix='.gz')
  _ = ((parsed.errors, windowed['errors']) | 'Errors' >> beam.Flatten()
       | 'FirstErrors' >> beam.combiners.Sample.FixedSizeGlobally(_MAX_LISTED)
       | 'WriteErrors' >> beam.Map(_write_json, os.path.join(scratch, 'errors.json')))
  _ = windowed['report'] | 'WriteReport' >> beam.Map(_write_json, os.path.join(scratch, 'report.json'))


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
    block_steps: Parameter[int] = DEFAULT_BLOCK_STEPS,
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
    block_steps: time steps per block of the block-wise windowing (memory per worker grows with it, not with
      the series); 0 windows each series whole, the reference path.
    beam_pipeline: provided by TFX with the pipeline's beam_pipeline_args.
  """
  config = WindowConfig.from_json(window_config)
  row_schema = io_utils.SchemaReader().read(os.path.join(schema.uri, 'schema.pbtxt'))
  check_columns(row_schema, config, source=f'the input CSV files ({examples.uri})')

  split_names = artifact_utils.decode_split_names(examples.split_names)
  patterns = [os.path.join(artifact_utils.get_split_uri([examples], s), '*') for s in split_names]
  scratch = os.path.join(report.uri, 'beam')
  with beam_pipeline as p:
    windowing_pipeline(p, patterns, config, windowed_examples.uri, scratch, block_steps)

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
