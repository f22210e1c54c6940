"""The pre-flight reads the first rows of each file (core/data_contract.PREFLIGHT_ROWS), locally or through
tf.io.gfile for a URI; the run's ExampleGen checks every row with the same message."""
import pytest
import tensorflow as tf

from components.text_example_gen import read_file_rows
from core import data_contract
from core import storage
from core.data_contract import DataContractError


def _reviews(count: int, bad_line: int = 0) -> str:
  lines = ['text\tlabel'] + [f'review {i}\t{i % 2}' for i in range(2, count + 2)]
  if bad_line:
    lines[bad_line - 1] = 'a review\tmaybe'
  return '\n'.join(lines) + '\n'


def test_a_large_file_is_checked_on_its_first_rows_and_said_so(tmp_path, monkeypatch):
  monkeypatch.setattr(data_contract, 'PREFLIGHT_ROWS', 5)
  (tmp_path / 'train.tsv').write_text(_reviews(50, bad_line=30))
  (tmp_path / 'dev.tsv').write_text(_reviews(4))
  found = data_contract.check_sentiment_data(str(tmp_path))
  assert found.rows == data_contract.RowCount(9, partial=True) and f'{found.rows:,}' == '9+'
  # What the pre-flight did not read, ExampleGen does, with the message a whole read gives.
  message = r"train.tsv line 30: 'label' is 'maybe', not an integer"
  with pytest.raises(DataContractError, match=message):
    list(read_file_rows(str(tmp_path / 'train.tsv'), found.text_format))
  monkeypatch.setattr(data_contract, 'PREFLIGHT_ROWS', 100)
  with pytest.raises(DataContractError, match=message):
    data_contract.check_sentiment_data(str(tmp_path))


def test_forecast_files_too(tmp_path, monkeypatch):
  monkeypatch.setattr(data_contract, 'PREFLIGHT_ROWS', 10)
  rows = ''.join(f'2014-01-01 {h:02d}:00,{h}\n' for h in range(24))
  (tmp_path / 'a.csv').write_text('datetime,y\n' + rows)
  found = data_contract.check_forecast_data(str(tmp_path), 'datetime', 'y')
  assert f'{found.rows:,}' == '10+' and found.describe(str(tmp_path), 'y').startswith('10+ rows in 1 file(s)')
  monkeypatch.setattr(data_contract, 'PREFLIGHT_ROWS', 100)
  assert data_contract.check_forecast_data(str(tmp_path), 'datetime', 'y').rows == 24


def test_a_remote_data_directory_is_checked_through_tf_io_gfile():
  # TensorFlow's in-memory filesystem stands for gs:// or s3://: the same tf.io.gfile calls.
  root = 'ram://preflight/reviews'
  tf.io.gfile.makedirs(root)
  for name, count in (('train.tsv', 20), ('dev.tsv', 5)):
    with tf.io.gfile.GFile(f'{root}/{name}', 'w') as f:
      f.write(_reviews(count))
  assert storage.is_remote(root) and storage.isdir(root) and not storage.isdir(f'{root}/absent')
  assert storage.glob(f'{root}/*.tsv') == [f'{root}/dev.tsv', f'{root}/train.tsv']
  found = data_contract.check_sentiment_data(root)
  assert found.rows == 25 and found.input_splits == (('train', 'train*'), ('eval', 'dev*'))
  with pytest.raises(DataContractError, match='data directory ram://preflight/absent does not exist'):
    data_contract.check_sentiment_data('ram://preflight/absent')
