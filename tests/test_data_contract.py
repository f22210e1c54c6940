"""Tier 1: the sentiment and translate pre-flight checks of the data contract: layouts, formats, errors."""
import pytest

from core import data_contract
from core.data_contract import DataContractError


def _write(directory, files):
  directory.mkdir(parents=True, exist_ok=True)
  for name, content in files.items():
    (directory / name).write_text(content, encoding='utf-8')
  return str(directory)


def test_train_dev_files_keep_their_split(tmp_path):
  found = data_contract.check_sentiment_data(_write(tmp_path, {
      'train.tsv': 'text\tlabel\ngood "x" .\t1\nbad .\t0\n', 'dev.tsv': 'text\tlabel\nfine .\t1\n',
      'README.md': 'not data'}))
  assert found.input_splits == (('train', 'train*'), ('eval', 'dev*')) and found.hash_splits == ()
  assert (found.text_format.delimiter, found.text_format.quoting, found.rows) == ('\t', False, 3)


def test_eval_prefix_and_csv_files(tmp_path):
  found = data_contract.check_sentiment_data(_write(tmp_path, {
      'train.csv': 'text,label\n"a, b",1\n', 'eval.csv': 'text,label\nc,0\n'}))
  assert found.input_splits == (('train', 'train*'), ('eval', 'eval*'))
  assert (found.text_format.delimiter, found.text_format.quoting) == (',', True)


def test_one_csv_file_is_hash_split(tmp_path):
  found = data_contract.check_sentiment_data(_write(tmp_path, {
      'reviews.csv': '"text","label"\n"said ""hi"", left",1\nok,0\n'}))
  assert found.input_splits == (('all', '*.csv'),) and found.hash_splits == (('train', 9), ('eval', 1))
  assert found.rows == 2 and 'hash split 90/10' in found.layout and 'CSV quoting' in found.layout


def test_explicit_delimiter_wins(tmp_path):
  """A `.csv` keeps CSV quoting with another delimiter (spreadsheets export `;`); other files have none."""
  found = data_contract.check_sentiment_data(_write(tmp_path / 'csv', {
      'reviews.csv': '"text";"label"\n"a; b, ""c""";1\n'}), delimiter=';')
  assert (found.text_format.delimiter, found.text_format.quoting, found.rows) == (';', True, 1)
  found = data_contract.check_sentiment_data(_write(tmp_path / 'txt', {
      'train.txt': 'text;label\n"a, b;1\n', 'dev.txt': 'text;label\nc;0\n'}), delimiter=';')
  assert (found.text_format.delimiter, found.text_format.quoting, found.rows) == (';', False, 2)


@pytest.mark.parametrize('files,message', [
    ({'a.csv': 'text,label\nx,1\n', 'b.tsv': 'text\tlabel\nx\t1\n'}, 'mixes *.csv and *.tsv files'),
    ({'test.tsv': 'text\tlabel\nx\t1\n'}, 'has test* files but no dev*/eval* file'),
    ({'notes.txt': 'hello'}, 'no train*/dev* files and no *.csv or *.tsv files'),
    ({'reviews.csv': 'text,label\nan, unquoted comma,1\n'}, 'reviews.csv line 2: 3 field(s) (comma-separated'),
])
def test_layout_errors(tmp_path, files, message):
  with pytest.raises(DataContractError) as raised:
    data_contract.check_sentiment_data(_write(tmp_path, files))
  assert message in str(raised.value)


def test_a_slice_column_needs_a_value_in_every_row(tmp_path):
  # The schema comes from the training split: a column training always has is required in eval as well.
  with pytest.raises(DataContractError, match="dev.tsv line 3: empty 'genre'"):
    data_contract.check_sentiment_data(_write(tmp_path, {
        'train.tsv': 'text\tlabel\tgenre\na .\t1\tdrama\n', 'dev.tsv': 'text\tlabel\tgenre\nb .\t0\tdrama\nc .\t1\t\n'}),
        slice_columns=('genre',))


def test_missing_directory():
  with pytest.raises(DataContractError, match='data directory /nonexistent does not exist'):
    data_contract.check_sentiment_data('/nonexistent')


def test_translate_pairs(tmp_path):
  pairs, described = data_contract.check_translate_data(_write(tmp_path, {
      'fra.txt': 'Go.\tVa !\tattribution\nHi.\tSalut "toi".\n', '_about.txt': 'x'}), 'fra.txt')
  assert pairs == 2 and 'fra.txt' in described and '_about' not in described
