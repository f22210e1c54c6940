"""Tier 1: the block-wise Beam windowing gives exactly the examples and report of the whole-series reference.

The reference is the component's windowing transform with block_steps=0 (every series in one group through
window_series, the path before blocks). Both run on the same row examples: several series with gaps, missing
values, irregular spacing, different steps, a series too short for a window and one with more gaps than the
report lists; blocks smaller than, equal to and larger than the window (and one step, and huge).
"""
import math
import pickle

import apache_beam as beam
import pytest
import tensorflow as tf

from components import windowing
from core.data_contract import format_timestamp
from components.windowing import WindowConfig

HOUR = 3600
START = 1577836800  # 2020-01-01 00:00 UTC
WINDOW, HORIZON = 5, 2  # a window covers W+H-1 = 6 steps before its target
# One step, smaller than W, equal to W and to W+H-1, larger, and more than the whole data.
BLOCK_STEPS = (1, 3, WINDOW, WINDOW + HORIZON - 1, 50, 10**6)


def make_config(**overrides) -> WindowConfig:
  fields = dict(time_column='time', target='y', numeric_features=('y', 'x'), categorical_features=('wind',),
                series_column='meter', window=WINDOW, horizon=HORIZON, eval_fraction=0.2, test_fraction=0.2)
  fields.update(overrides)
  return WindowConfig(**fields)


def row(series, timestamp, y, x=1.0, wind='NW'):
  """A row example as ExampleGen writes one: text time, floats (none when missing), bytes."""
  feature = tf.train.Feature
  features = {
      'meter': feature(bytes_list=tf.train.BytesList(value=[series.encode()])),
      'time': feature(bytes_list=tf.train.BytesList(value=[format_timestamp(timestamp).encode()])),
      'y': feature(float_list=tf.train.FloatList(value=[] if math.isnan(y) else [y])),
      'x': feature(float_list=tf.train.FloatList(value=[x])),
      'wind': feature(bytes_list=tf.train.BytesList(value=[wind.encode()] if wind else [])),
  }
  return tf.train.Example(features=tf.train.Features(feature=features))


def series_rows():
  rows = []
  # 'a': hourly, 240 steps: a 1-step and a 5-step gap, a long gap, missing values, a missing category, and two
  # rows off the hourly grid (an irregular spacing) around step 200.
  skip = {30, 61, 62, 63, 64, 65} | set(range(120, 160))
  for i in range(240):
    if i in skip:
      continue
    y = math.nan if i in (10, 11, 90, 233) else float(i % 17)
    rows.append(row('a', START + i * HOUR, y, x=float(i), wind='' if i == 50 else ('NW' if i % 3 else 'SE')))
  rows.append(row('a', START + 200 * HOUR + 1800, 4.0))
  # 'b': every 10 minutes over the same time range, shifted by 5 minutes, with a 1-hour gap.
  for i in range(0, 240 * 6):
    if not 700 <= i < 706:
      rows.append(row('b', START + 300 + i * 600, float(i % 11), x=-float(i)))
  # 'c': too short for a single window.
  rows += [row('c', START + i * HOUR, 1.0) for i in range(WINDOW + HORIZON - 1)]
  # 'd': every 2 hours with every 4th reading missing: more gaps than the report lists.
  rows += [row('d', START + i * 2 * HOUR, float(i)) for i in range(120) if i % 4 != 3]
  # 'e': mostly 2-hourly with some 1-hour spacings (the most common spacing wins).
  stamps = sorted({START + i * 2 * HOUR for i in range(100)} | {START + i * 2 * HOUR + HOUR for i in range(0, 100, 7)})
  rows += [row('e', t, float(n % 5)) for n, t in enumerate(stamps)]
  return rows


def run_variants(tmp_path, rows, config, variants):
  """Windows `rows` (row examples) once per block size, all in one Beam pipeline; per block size:
  {'splits': {split: sorted serialized examples}, 'report': the merged report, 'errors': sorted messages}."""
  parsed = [windowing.parse_row(example, config) for example in rows]
  stamps = [r.timestamp for _, r in parsed]
  boundaries = windowing.boundaries_for(config, min(stamps), max(stamps))  # as the pipeline finds them
  with beam.Pipeline() as p:
    rows_in = p | 'Rows' >> beam.Create([example.SerializeToString() for example in rows])
    parse = windowing._ParseRows(config)  # pylint: disable=protected-access
    parsed_in = rows_in | 'Parse' >> beam.ParDo(parse).with_outputs('errors', main='rows')
    bounds = p | 'Bounds' >> beam.Create([boundaries])
    for block_steps in variants:
      out = parsed_in.rows | f'Windows{block_steps}' >> windowing.WindowRows(config, bounds, block_steps)
      tagged = [out[name] | f'Tag{name}{block_steps}' >> beam.Map(lambda value, name=name: (name, value))
                for name in (*windowing.SPLITS, 'errors', 'report')]
      _ = (tagged | f'All{block_steps}' >> beam.Flatten() | f'List{block_steps}' >> beam.combiners.ToList()
           | f'Save{block_steps}' >> beam.Map(
               lambda values, path=tmp_path / f'{block_steps}.pickle': path.write_bytes(pickle.dumps(values))))
  results = {}
  for block_steps in variants:
    values = pickle.loads((tmp_path / f'{block_steps}.pickle').read_bytes())
    of = lambda name, values=values: sorted(v for n, v in values if n == name)  # noqa: E731
    (report,) = of('report')
    results[block_steps] = {'splits': {s: of(s) for s in windowing.SPLITS}, 'report': report, 'errors': of('errors')}
  return results


@pytest.mark.parametrize('config,block_steps', [
    (make_config(), BLOCK_STEPS),
    (make_config(step_seconds=HOUR, window=3, horizon=1), (1, 2, 3, 4096))], ids=['inferred_step', 'configured_step'])
def test_block_wise_windows_and_report_equal_the_whole_series_reference(tmp_path, config, block_steps):
  results = run_variants(tmp_path, series_rows(), config, (0,) + block_steps)
  reference = results.pop(0)
  # The data exercises what it should: every split, gaps beyond the listed ones, drops of both kinds.
  report = reference['report']
  assert all(len(reference['splits'][s]) == report['windows'][s] > 0 for s in windowing.SPLITS), report
  assert report['series'] == 5 and report['gap_count'] > len(report['gaps']) == 20, report
  assert report['dropped_incomplete'] > 0 and report['dropped_straddling'] > 0, report
  assert reference['errors'] == []
  if not config.step_seconds:
    assert report['step_seconds'] == [0, 600, HOUR, 2 * HOUR]
  for block_steps, result in results.items():
    for split in windowing.SPLITS:
      assert result['splits'][split] == reference['splits'][split], (block_steps, split)
    assert result['report'] == report, block_steps
    assert result['errors'] == [], block_steps


def test_duplicate_timestamps_are_rejected_like_the_reference_also_at_block_boundaries(tmp_path):
  rows = series_rows()
  # 'a' repeats hour 12 (a block boundary for 1, 2, 3 and 6 steps per block); 'b' repeats its first row and
  # 'e' the row that starts a 2-hour block; 'f' is too short for a window, so its repeat is not checked.
  rows += [row('a', START + 12 * HOUR, 7.0), row('b', START + 300, 1.0), row('e', START + 6 * 2 * HOUR, 1.0),
           row('f', START, 2.0), row('f', START, 3.0)]
  results = run_variants(tmp_path, rows, make_config(), (0, 1, 3, 4096))
  reference = results.pop(0)
  assert reference['errors'] == [
      'series a has two rows at 2020-01-01 12:00:00 UTC (local times with daylight saving repeat an hour: use UTC '
      'or an offset)',
      'series b has two rows at 2020-01-01 00:05:00 UTC (local times with daylight saving repeat an hour: use UTC '
      'or an offset)',
      'series e has two rows at 2020-01-01 12:00:00 UTC (local times with daylight saving repeat an hour: use UTC '
      'or an offset)']
  assert reference['report']['series'] == 3  # 'c', 'd' and 'f': the rejected series have no report
  for block_steps, result in results.items():
    assert result['errors'] == reference['errors'], block_steps
    assert result['report'] == reference['report'], block_steps
    assert result['splits'] == reference['splits'], block_steps


def test_rows_cross_the_shuffle_as_compact_bytes_and_come_back_equal():
  from components.windowing import Row, pack_row, unpack_row  # pylint: disable=g-import-not-at-top
  row = Row(1388534400, (35.0, float('nan'), -1e300, 0.1), ('NW', '', 'north|west\x1f', 'ça'))
  packed = pack_row(row)
  back = unpack_row(packed, 4, 4)
  assert back.timestamp == row.timestamp and back.categorical == row.categorical
  assert [v for v in back.numeric if not math.isnan(v)] == [35.0, -1e300, 0.1] and math.isnan(back.numeric[1])
  # 8 bytes of time, 8 per number, 4 plus the UTF-8 length per category: the cost of a row in the shuffle.
  assert len(packed) == 8 + 4 * 8 + 4 * 4 + sum(len(v.encode('utf-8')) for v in row.categorical)
