"""Tier 1: windowing on tiny hand-made series, exact windows, targets, splits and gaps."""
import math

import pytest

from core import data_contract
from components import windowing
from core.data_contract import DataContractError
from components.windowing import Row, SplitBoundaries, WindowConfig

HOUR = 3600


def make_config(**overrides) -> WindowConfig:
  fields = dict(time_column='t', target='y', numeric_features=('y', 'x'), window=3, horizon=1)
  fields.update(overrides)
  return WindowConfig(**fields)


def hourly(values, start=0, skip=()):
  """Rows at hours start.. with y = value, x = 10 * value; hours in `skip` are left out (a gap)."""
  return [Row(timestamp=(start + i) * HOUR, numeric=(float(v), 10.0 * v), categorical=())
          for i, v in enumerate(values) if start + i not in skip]


ALL_TRAIN = SplitBoundaries(eval_start=10**9, test_start=10**9)


def test_windows_targets_and_persistence_are_exact():
  windows, report = windowing.window_series('', hourly([1, 2, 3, 4, 5, 6]), make_config(), ALL_TRAIN)
  assert [[r.numeric[0] for r in w.inputs] for w in windows] == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]
  assert [w.target_value for w in windows] == [4, 5, 6]
  assert [w.target_timestamp for w in windows] == [3 * HOUR, 4 * HOUR, 5 * HOUR]
  assert report.windows == {'train': 3, 'eval': 0, 'test': 0}
  example = windowing.window_to_example(windows[0], make_config())
  features = example.features.feature
  assert list(features['y'].float_list.value) == [1, 2, 3]
  assert list(features['x'].float_list.value) == [10, 20, 30]
  assert features['label'].float_list.value[0] == 4
  assert features['persistence_forecast'].float_list.value[0] == 3
  assert features['target_hour'].int64_list.value[0] == 3


def test_horizon_skips_steps_between_window_and_target():
  windows, _ = windowing.window_series('', hourly([1, 2, 3, 4, 5, 6]), make_config(window=2, horizon=3), ALL_TRAIN)
  assert [([r.numeric[0] for r in w.inputs], w.target_value) for w in windows] == [([1, 2], 5), ([2, 3], 6)]


def test_rows_are_sorted_by_time_before_windowing():
  rows = hourly([1, 2, 3, 4, 5])
  windows, _ = windowing.window_series('', list(reversed(rows)), make_config(), ALL_TRAIN)
  assert [w.target_value for w in windows] == [4, 5]


def test_windows_never_span_a_gap_and_the_gap_is_reported():
  # Hours 0..9 with hours 4 and 5 missing: segments 0-3 and 6-9.
  rows = hourly(range(10), skip={4, 5})
  windows, report = windowing.window_series('s1', rows, make_config(), ALL_TRAIN)
  assert [w.target_value for w in windows] == [3, 9]
  assert report.gaps == [{'series': 's1', 'after': '1970-01-01 03:00:00', 'before': '1970-01-01 06:00:00',
                          'missing_steps': 2, 'spacing_seconds': 3 * HOUR}]


def test_chronological_splits_drop_windows_that_straddle_a_boundary():
  boundaries = SplitBoundaries(eval_start=6 * HOUR, test_start=10 * HOUR)
  windows, report = windowing.window_series('', hourly(range(14)), make_config(), boundaries)
  by_split = {s: [w.target_value for w in windows if w.split == s] for s in windowing.SPLITS}
  # train: target before hour 6; eval: first input >= 6 and target < 10; test: first input >= 10.
  assert by_split == {'train': [3, 4, 5], 'eval': [9], 'test': [13]}
  assert report.dropped_straddling == 6  # windows whose span crosses hour 6 or hour 10


def test_windows_with_missing_values_are_dropped_not_imputed():
  values = [1, 2, math.nan, 4, 5, 6, 7]
  windows, report = windowing.window_series('', hourly(values), make_config(), ALL_TRAIN)
  assert [w.target_value for w in windows] == [7]
  assert report.dropped_incomplete == 3  # the NaN at hour 2 is an input of the first 3 windows


def test_duplicate_timestamps_are_an_error():
  rows = hourly([1, 2, 3]) + hourly([9], start=1)
  with pytest.raises(DataContractError, match='two rows at 1970-01-01 01:00:00'):
    windowing.window_series('', rows, make_config(), ALL_TRAIN)


def test_step_is_the_most_common_spacing():
  assert windowing.infer_step([0, 10, 20, 30, 50, 60]) == 10


def test_boundaries_by_fraction_and_by_date():
  config = make_config(eval_fraction=0.2, test_fraction=0.1)
  assert windowing.boundaries_for(config, 0, 1000) == SplitBoundaries(700, 900)
  dated = make_config(eval_start='1970-01-01 01:00', test_start='1970-01-02')
  assert windowing.boundaries_for(dated, 0, 10**6) == SplitBoundaries(HOUR, 24 * HOUR)


@pytest.mark.parametrize('text,expected', [
    ('2014-01-31 13:00:00', 1391173200), ('2014-01-31', 1391126400), ('2014-01-31T13:00', 1391173200),
    (b'2014/01/31 13:00', 1391173200), (1391173200, 1391173200)])
def test_timestamps_parse(text, expected):
  assert data_contract.parse_timestamp(text) == expected


def test_bad_timestamp_and_number_name_the_value():
  with pytest.raises(DataContractError, match="'yesterday' is not a timestamp"):
    data_contract.parse_timestamp('yesterday')
  with pytest.raises(DataContractError, match="'n/a!' is not a number"):
    data_contract.parse_number(b'n/a!')
  assert math.isnan(data_contract.parse_number(b'NA')) and math.isnan(data_contract.parse_number(None))


def test_feature_keys_are_signature_safe():
  assert windowing.feature_key('pm2.5') == 'pm2_5'
  assert windowing.feature_key('2nd sensor') == 'f_2nd_sensor'


def test_unix_seconds_written_as_text_parse():
  assert data_contract.parse_timestamp('1388534400') == 1388534400
  assert data_contract.parse_timestamp(b'1388534400') == 1388534400


def test_a_series_too_short_for_one_window_gives_no_windows_not_an_error():
  windows, report = windowing.window_series('meter-7', hourly([1, 2, 3]), make_config(), ALL_TRAIN)
  assert windows == [] and report.rows == 3


def test_configuration_errors_are_raised_before_any_pipeline_work():
  with pytest.raises(DataContractError, match="'soon' is not a timestamp"):
    make_config(eval_start='soon')
  with pytest.raises(DataContractError, match='reserved for window fields'):
    make_config(numeric_features=('y', 'label'))
  with pytest.raises(DataContractError, match='need a start time or a fraction > 0'):
    make_config(test_fraction=0.0)
  with pytest.raises(DataContractError, match='the default test start .* is before the eval start'):
    windowing.boundaries_for(make_config(eval_start='1970-01-01 23:00'), 0, 24 * HOUR)
