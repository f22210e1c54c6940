"""Bad forecast input stops the run with a message naming file, row and column, a non-zero exit, and nothing run.

The table of bad files (every task, through the CLI and through ExampleGen) is tests/test_bad_input.py; here are
the forecast checks that need more than one broken line: column types, headers, time order in detail."""
import csv
import os

import pytest

from core import data_contract
from core.data_contract import DataContractError
from conftest import BUNDLED_FORECAST_CSV, run_cli


def _write_sample(directory, rows=60, edit=None):
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, 'sample.csv')
  with open(BUNDLED_FORECAST_CSV) as src, open(path, 'w', newline='') as dst:
    reader, writer = csv.reader(src), csv.writer(dst)
    header = next(reader)
    writer.writerow(header)
    for i, row in enumerate(reader):
      if i >= rows:
        break
      if edit:
        row = edit(i, dict(zip(header, row)))
        row = [row[c] for c in header]
      writer.writerow(row)
  return path


def _assert_nothing_ran(root):
  assert not os.path.exists(os.path.join(root, 'serving'))
  assert not os.path.exists(os.path.join(root, 'metadata.sqlite'))


def test_missing_column(tmp_path):
  data = tmp_path / 'data'
  _write_sample(data)
  result = run_cli('run', 'forecast', '--data', str(data), '--root', str(tmp_path / 'root'), '--target', 'pm10')
  assert result.returncode == 2
  assert "sample.csv: column(s) 'pm10' not found; the header has: datetime, pm2.5" in result.stderr
  _assert_nothing_ran(tmp_path / 'root')


def test_help_shows_examples():
  result = run_cli('run', 'forecast', '--help')
  assert result.returncode == 0
  assert 'tfx-lstm run forecast --data my_csvs/' in result.stdout and '--gap-policy' in result.stdout


@pytest.mark.parametrize('header', [
    '\ufeffdatetime,pm2.5,DEWP',  # Excel's "CSV UTF-8"
    '"datetime","pm2.5","DEWP"',  # R's write.csv and many exports quote every name
    'datetime, pm2.5 ,DEWP',  # padded names
])
def test_exported_headers_are_read_as_plain_names(tmp_path, header):
  (tmp_path / 'a.csv').write_text(header + '\n2014-01-01 00:00:00,10,1\n"2014-01-01 01:00:00","11","2"\n',
                                  encoding='utf-8')
  found = data_contract.check_forecast_data(str(tmp_path), 'datetime', 'pm2.5')
  assert (found.numeric_features, found.rows) == (['pm2.5', 'DEWP'], 2)
  assert found.text_format.columns == ('datetime', 'pm2.5', 'DEWP') and found.text_format.quoting


def test_header_errors(tmp_path):
  (tmp_path / 'a.csv').write_text('datetime,,DEWP\n2014-01-01 00:00:00,10,1\n', encoding='utf-8')
  with pytest.raises(DataContractError, match="a.csv line 1: the header has an empty column name"):
    data_contract.check_forecast_data(str(tmp_path), 'datetime', 'DEWP')
  (tmp_path / 'a.csv').write_text('datetime,x,x\n2014-01-01 00:00:00,10,1\n', encoding='utf-8')
  with pytest.raises(DataContractError, match="column name\\(s\\) 'x' appear twice"):
    data_contract.check_forecast_data(str(tmp_path), 'datetime', 'x')


def test_non_utf8_csv_is_a_clear_error(tmp_path):
  (tmp_path / 'a.csv').write_bytes(b'datetime,pm2.5,TEMP\n2014-01-01 00:00:00,10,1\xb0\n')
  with pytest.raises(DataContractError, match=r'a.csv line 2: not valid UTF-8 \(byte 0xb0 at byte 25 of the line\)'):
    data_contract.check_forecast_data(str(tmp_path), 'datetime', 'pm2.5')


def _check(tmp_path, content: str, **kwargs):
  (tmp_path / 'a.csv').write_text(content, encoding='utf-8')
  return data_contract.check_forecast_data(str(tmp_path), 'datetime', 'y', **kwargs)


def test_nan_and_inf_are_errors_in_numeric_columns_and_words_in_text_columns(tmp_path):
  rows = '2014-01-01 00:00,1,NW\n2014-01-01 01:00,2,inf\n2014-01-01 02:00,,NaN\n'
  found = _check(tmp_path, 'datetime,y,wind\n' + rows)
  assert (found.numeric_features, found.categorical_features) == (['y'], ['wind'])
  # A numeric column is checked even when it is no feature: ExampleGen writes every numeric column as a number.
  with pytest.raises(DataContractError, match="a.csv line 3 column 'x': 'nan' is not a finite number"):
    _check(tmp_path, 'datetime,y,x\n2014-01-01 00:00,1,1\n2014-01-01 01:00,2,nan\n', features=['y'])
  with pytest.raises(DataContractError, match="a.csv line 2 column 'x': 'warm' is not a number \\(1 other values"):
    _check(tmp_path, 'datetime,y,x\n2014-01-01 00:00,1,warm\n2014-01-01 01:00,2,1e999\n2014-01-01 02:00,3,4\n')


def test_time_order_is_checked_per_series(tmp_path):
  # Interleaved series, each in order; the same time in two series is no duplicate.
  rows = ''.join(f'2014-01-01 {h:02d}:00,{s},1\n' for h in range(3) for s in ('a', 'b'))
  assert _check(tmp_path, 'datetime,station,y\n' + rows, series_column='station').rows == 6
  with pytest.raises(DataContractError, match='a.csv lines 2 and 3: two rows at 2014-01-01 00:00:00 UTC'):
    _check(tmp_path, 'datetime,station,y\n' + rows)
  with pytest.raises(DataContractError, match="a.csv lines 7 and 8: two rows at 2014-01-01 02:00:00 UTC \\(series 'b'\\)"):
    _check(tmp_path, 'datetime,station,y\n' + rows + '2014-01-01 02:00,b,1\n', series_column='station')


def test_newest_first_files_are_in_order(tmp_path):
  rows = ''.join(f'2014-01-01 {h:02d}:00,{h}\n' for h in reversed(range(24)))
  assert _check(tmp_path, 'datetime,y\n' + rows, max_gap_steps=24).rows == 24
  with pytest.raises(DataContractError, match=r'a.csv line 26: 2014-01-01 05:00:00 is later than 2014-01-01 00:00:00 '
                     r'on line 25, but the rows before it are newest first'):
    _check(tmp_path, 'datetime,y\n' + rows + '2014-01-01 05:00,1\n')


def test_gap_limit_step_and_unlimited(tmp_path):
  hours = [0, 1, 2, 3, 4, 5, 6, 11, 12]  # a 4-step gap after 06:00
  rows = 'datetime,y\n' + ''.join(f'2014-01-01 {h:02d}:00,{h}\n' for h in hours)
  assert _check(tmp_path, rows, max_gap_steps=4).rows == 9
  assert _check(tmp_path, rows, max_gap_steps=0).rows == 9  # 0: any gap
  with pytest.raises(DataContractError, match='a.csv lines 8-9: no rows between 2014-01-01 06:00:00 and '
                     '2014-01-01 11:00:00, 4 missing steps of 1 hour: a gap longer than the 3 steps allowed'):
    _check(tmp_path, rows, max_gap_steps=3)
  # A configured step of 30 minutes: the hourly rows miss one step each, the gap nine.
  with pytest.raises(DataContractError, match='9 missing steps of 30 minutes'):
    _check(tmp_path, rows, max_gap_steps=4, step_seconds=1800)
  assert _check(tmp_path, rows, max_gap_steps=4).text_format.max_gap_steps == 4  # ExampleGen checks the same


def test_max_gap_steps_flag_defaults_to_the_window(tmp_path):
  from cli import main as cli  # pylint: disable=g-import-not-at-top
  from pipeline import preflight  # pylint: disable=g-import-not-at-top
  hours = list(range(10)) + list(range(16, 40))  # a 6-step gap
  (tmp_path / 'a.csv').write_text('datetime,y\n' + ''.join(f'{1388534400 + h * 3600},{h}\n' for h in hours))
  for flags in (['--window', '6'], ['--window', '5', '--max-gap-steps', '8'], ['--window', '5', '--max-gap-steps', '0']):
    args = cli.build_parser().parse_args(['run', 'forecast', '--data', str(tmp_path), '--target', 'y', *flags])
    preflight.CHECKS['forecast'](args)  # pylint: disable=protected-access
  args = cli.build_parser().parse_args(['run', 'forecast', '--data', str(tmp_path), '--target', 'y', '--window', '5'])
  with pytest.raises(DataContractError, match='6 missing steps of 1 hour: a gap longer than the 5 steps allowed'):
    preflight.CHECKS['forecast'](args)  # pylint: disable=protected-access
