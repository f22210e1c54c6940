"""Bad input stops the run with a message naming file, row and column, a non-zero exit, and nothing run."""
import csv
import os

import pytest

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


def test_non_numeric_value(tmp_path):
  data = tmp_path / 'data'

  def corrupt(i, row):
    if i == 10:
      row['TEMP'] = 'warm'
    return row

  _write_sample(data, edit=corrupt)
  result = run_cli('run', 'forecast', '--data', str(data), '--root', str(tmp_path / 'root'))
  assert result.returncode == 2
  # Data row 10 is line 12 of the file (the header is line 1).
  assert "sample.csv row 12: 'warm' in column 'TEMP' is not a number" in result.stderr
  _assert_nothing_ran(tmp_path / 'root')


@pytest.mark.parametrize('content,message', [('', 'empty.csv is empty: expected a header row and data rows'),
                                             ('datetime,pm2.5,DEWP\n', 'empty.csv has a header but no data rows')])
def test_empty_file(tmp_path, content, message):
  data = tmp_path / 'data'
  os.makedirs(data)
  (data / 'empty.csv').write_text(content)
  result = run_cli('run', 'forecast', '--data', str(data), '--root', str(tmp_path / 'root'))
  assert result.returncode == 2
  assert message in result.stderr, result.stderr
  _assert_nothing_ran(tmp_path / 'root')


def test_help_shows_examples():
  result = run_cli('run', 'forecast', '--help')
  assert result.returncode == 0
  assert 'tfx-lstm run forecast --data my_csvs/' in result.stdout and '--gap-policy' in result.stdout


@pytest.mark.parametrize('header,message', [
    ('\ufeffdatetime,pm2.5,DEWP', 'starts with a byte-order mark'),
    ('datetime, pm2.5,DEWP', "header names must be bare, unquoted and non-empty; got ' pm2.5'"),
    ('"datetime",pm2.5,DEWP', 'header names must be bare'),
])
def test_headers_csv_example_gen_would_misread_are_rejected(tmp_path, header, message):
  from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
  from pipeline import data_contract  # pylint: disable=g-import-not-at-top
  (tmp_path / 'a.csv').write_text(header + '\n2014-01-01 00:00:00,10,1\n', encoding='utf-8')
  with pytest.raises(DataContractError, match=message):
    data_contract.check_forecast_data(str(tmp_path), 'datetime', 'pm2.5')


def test_non_utf8_csv_is_a_clear_error(tmp_path):
  from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
  from pipeline import data_contract  # pylint: disable=g-import-not-at-top
  (tmp_path / 'a.csv').write_bytes(b'datetime,pm2.5,TEMP\n2014-01-01 00:00:00,10,1\xb0\n')
  with pytest.raises(DataContractError, match='not valid UTF-8'):
    data_contract.check_forecast_data(str(tmp_path), 'datetime', 'pm2.5')
