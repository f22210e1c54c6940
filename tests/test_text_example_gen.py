"""Tier 1: the data contract's delimited-text reader (what DelimitedTextExampleGen and the CLI's pre-flight
checks both use), CSV quoting included, and the example it becomes."""
import json

import pytest

from core.data_contract import DataContractError, TextFormat, parse_rows, read_rows
from components.text_example_gen import read_file_rows, row_to_example

FORMAT = TextFormat(columns=('text', 'label'), int_columns=('label',), allowed_values={'label': (0, 1)},
                    non_empty=('text',))
CSV = TextFormat(columns=('text', 'label'), delimiter=',', quoting=True, int_columns=('label',),
                 allowed_values={'label': (0, 1)}, non_empty=('text',))


def test_rows_keep_quotes_and_skip_blank_lines(tmp_path):
  path = tmp_path / 'train.tsv'
  path.write_bytes(b'\xef\xbb\xbftext\tlabel\r\nsays "hi" .\t1\r\n\r\nbye\t0\n')  # BOM and CRLF
  assert list(read_rows(str(path), FORMAT)) == [(2, {'text': 'says "hi" .', 'label': 1}),
                                                 (4, {'text': 'bye', 'label': 0})]


def test_csv_quoting_in_header_and_fields():
  content = ('"text","label"\r\n'
             '"good, really ""good""",1\r\n'
             'plain,0\r\n'
             '"two\nlines",1\r\n'
             'after,0\r\n').encode()
  assert list(parse_rows(content, 'reviews.csv', CSV)) == [
      (2, {'text': 'good, really "good"', 'label': 1}), (3, {'text': 'plain', 'label': 0}),
      (4, {'text': 'two\nlines', 'label': 1}), (6, {'text': 'after', 'label': 0})]


def test_csv_errors_name_the_line():
  with pytest.raises(DataContractError, match=r"reviews.csv line 3: 3 field\(s\) \(comma-separated, CSV quoting\), "
                     r'expected 2 \(text, label\)'):
    list(parse_rows(b'text,label\nfine,1\nan, unquoted comma,0\n', 'reviews.csv', CSV))
  with pytest.raises(DataContractError, match='reviews.csv line 2: not valid CSV'):
    list(parse_rows(b'text,label\n"bad" quote",1\n', 'reviews.csv', CSV))


def test_headerless_pairs_ignore_extra_fields(tmp_path):
  path = tmp_path / 'fra.txt'
  path.write_text('Go.\tVa !\tCC-BY 2.0 (France) Attribution\n', encoding='utf-8')
  pairs = TextFormat(columns=('source', 'target'), header=False, non_empty=('source', 'target'))
  assert list(read_rows(str(path), pairs)) == [(1, {'source': 'Go.', 'target': 'Va !'})]
  assert list(read_file_rows(str(path), pairs)) == [{'source': 'Go.', 'target': 'Va !'}]


def test_float_columns_leave_missing_values_out_of_the_example():
  rows = TextFormat(columns=('t', 'x'), delimiter=',', quoting=True, float_columns=('x',))
  parsed = [row for _, row in parse_rows(b'"t","x"\n2014-01-01,1.5\n2014-01-02,NA\n', 'a.csv', rows)]
  assert parsed == [{'t': '2014-01-01', 'x': 1.5}, {'t': '2014-01-02', 'x': None}]
  example = row_to_example(parsed[1])
  assert set(example.features.feature) == {'t'}
  assert row_to_example(parsed[0]).features.feature['x'].float_list.value == [1.5]
  with pytest.raises(DataContractError, match="a.csv line 2 column 'x': 'warm' is not a number"):
    list(parse_rows(b't,x\n2014-01-01,warm\n', 'a.csv', rows))


def test_empty_file(tmp_path):
  path = tmp_path / 'train.tsv'
  path.write_bytes(b'')
  with pytest.raises(DataContractError, match='is empty: expected a header row'):
    list(read_rows(str(path), FORMAT))
  path.write_bytes(b'text\tlabel\n\n')
  with pytest.raises(DataContractError, match=r'train.tsv has a header \(line 1\) but no data rows'):
    list(read_rows(str(path), FORMAT))


def test_a_file_that_is_not_text_is_named_as_such():
  with pytest.raises(DataContractError, match=r'train.tsv line 1: the file is UTF-16 text .*save it as UTF-8'):
    list(parse_rows('text\tlabel\nfine\t1\n'.encode('utf-16'), 'train.tsv', FORMAT))
  with pytest.raises(DataContractError, match=r'train.tsv line 2: looks like a binary file, not text \(a NUL byte at '
                     r'byte 3 of the line'):
    list(parse_rows(b'text\tlabel\nok\x00\t1\n', 'train.tsv', FORMAT))


def test_headerless_pairs_allow_one_ignored_field_when_limited():
  pairs = TextFormat(columns=('source', 'target'), header=False, max_fields=3)
  assert [row for _, row in parse_rows(b'Go.\tVa !\tCC-BY\n', 'fra.txt', pairs)] == [{'source': 'Go.', 'target': 'Va !'}]
  with pytest.raises(DataContractError, match=r'fra.txt line 1: 4 field\(s\) .*and at most 1 more \(ignored\)'):
    list(parse_rows(b'Go.\tVa !\tCC-BY\tx\n', 'fra.txt', pairs))


def test_time_order_is_checked_as_example_gen_reads_a_file(tmp_path):
  rows = TextFormat(columns=('t', 'x'), delimiter=',', quoting=True, float_columns=('x',), time_column='t',
                    max_gap_steps=1)
  path = tmp_path / 'a.csv'
  path.write_bytes(b't,x\n2014-01-01 00:00,1\n2014-01-01 01:00,2\n2014-01-01 03:00,3\n')  # one missing step
  assert len(list(read_file_rows(str(path), rows))) == 3
  path.write_bytes(b't,x\n2014-01-01 00:00,1\n2014-01-01 01:00,2\n2014-01-01 04:00,3\n')  # two
  with pytest.raises(DataContractError, match='a.csv lines 3-4: no rows between 2014-01-01 01:00:00 and '
                     '2014-01-01 04:00:00, 2 missing steps of 1 hour'):
    list(read_file_rows(str(path), rows))
  path.write_bytes(b't,x\n2014-01-01 00:00,1\n2014-01-01,2\n')
  with pytest.raises(DataContractError, match='a.csv lines 2 and 3: two rows at 2014-01-01 00:00:00 UTC'):
    list(read_file_rows(str(path), rows))


def test_a_format_saved_before_the_time_order_fields_still_loads():
  saved = json.loads(FORMAT.to_json())
  for name in ('max_fields', 'time_column', 'series_column', 'step_seconds', 'max_gap_steps'):
    del saved[name]
  assert TextFormat.from_json(json.dumps(saved)) == FORMAT
