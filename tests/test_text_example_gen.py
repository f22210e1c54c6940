"""Tier 1: the delimited-text reader behind DelimitedTextExampleGen (and the CLI's pre-flight check)."""
import pytest

from components.text_example_gen import TextFormat, read_rows
from components.windowing import DataContractError

FORMAT = TextFormat(columns=('text', 'label'), int_columns=('label',), allowed_values={'label': (0, 1)},
                    non_empty=('text',))


def test_rows_keep_quotes_and_skip_blank_lines(tmp_path):
  path = tmp_path / 'train.tsv'
  path.write_bytes(b'\xef\xbb\xbftext\tlabel\r\nsays "hi" .\t1\r\n\r\nbye\t0\n')  # BOM and CRLF
  assert list(read_rows(str(path), FORMAT)) == [(2, {'text': 'says "hi" .', 'label': 1}),
                                                 (4, {'text': 'bye', 'label': 0})]


def test_headerless_pairs_ignore_extra_fields(tmp_path):
  path = tmp_path / 'fra.txt'
  path.write_text('Go.\tVa !\tCC-BY 2.0 (France) Attribution\n', encoding='utf-8')
  pairs = TextFormat(columns=('source', 'target'), header=False, non_empty=('source', 'target'))
  assert list(read_rows(str(path), pairs)) == [(1, {'source': 'Go.', 'target': 'Va !'})]


def test_empty_file(tmp_path):
  path = tmp_path / 'train.tsv'
  path.write_bytes(b'')
  with pytest.raises(DataContractError, match='is empty: expected a header row'):
    list(read_rows(str(path), FORMAT))
