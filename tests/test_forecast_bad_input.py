"""Bad input stops the run with a message naming file, row and column, a non-zero exit, and nothing run."""
import csv
import os

import pytest

from components import data_contract
from components.data_contract import DataContractError
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
  assert "sample.csv line 12: 'warm' in column 'TEMP' is not a number" in result.stderr
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
