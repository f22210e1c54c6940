"""DelimitedTextExampleGen reads files as streams, and large one-record-per-line files in parts: the same examples
as the whole-file reader it replaced, the same errors with file and line, and its executor writes every split."""
import hashlib
import os
import pathlib

import pytest
import tensorflow as tf
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from components import text_example_gen
from components.text_example_gen import FilePart, plan_parts, read_file_rows, read_part_rows, row_to_example
from core import data_contract
from core.data_contract import DataContractError, TextFormat

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / 'data'
SENTIMENT = data_contract.check_sentiment_data(str(DATA / 'sst2')).text_format
PAIRS = data_contract.translate_format()
FORECAST = data_contract.check_forecast_data(str(DATA / 'beijing_pm25'), 'datetime', 'pm2.5').text_format

# (rows, sha256 of the sorted, deterministically serialized examples) of each bundled file, as the whole-file
# reader of commit 2f9de3d (`parse_rows` on the file's bytes) made them.
BEFORE = {
    'beijing_pm25/beijing_pm25_2013_2014.csv': (FORECAST, 17520, '1560923400b482c0'),
    'sst2/train.tsv': (SENTIMENT, 5000, 'fee8b7426cf428ca'),
    'sst2/dev.tsv': (SENTIMENT, 872, '5daf0a97b8c83825'),
    'fra_eng/fra_eng_sample.txt': (PAIRS, 20000, 'b72cdb27f84c153c'),
}


def _digest(rows) -> tuple:
  examples = sorted(row_to_example(row).SerializeToString(deterministic=True) for row in rows)
  return len(examples), hashlib.sha256(b''.join(examples)).hexdigest()[:16]


@pytest.mark.parametrize('relative', sorted(BEFORE))
def test_the_stream_reader_makes_the_examples_the_whole_file_reader_made(relative):
  text_format, rows, digest = BEFORE[relative]
  assert _digest(read_file_rows(str(DATA / relative), text_format)) == (rows, digest)


def _read_in_parts(path: str, text_format: TextFormat, split_bytes: int):
  parts = list(plan_parts(path, text_format, split_bytes))
  return parts, [row for part in parts for row in read_part_rows(part, text_format)]


@pytest.mark.parametrize('relative', ['sst2/train.tsv', 'fra_eng/fra_eng_sample.txt'])
@pytest.mark.parametrize('split_bytes', [997, 65_536])
def test_a_file_read_in_parts_gives_the_same_rows_in_the_same_order(relative, split_bytes):
  text_format, rows, digest = BEFORE[relative]
  path = str(DATA / relative)
  parts, read = _read_in_parts(path, text_format, split_bytes)
  assert len(parts) == -(-os.path.getsize(path) // split_bytes) > 1 and all(isinstance(p, FilePart) for p in parts)
  assert read == list(read_file_rows(path, text_format))
  assert _digest(read) == (rows, digest)


def test_parts_number_their_lines_as_the_file_does(tmp_path):
  # A part that starts on a line start, one that starts mid-line, CRLF, blank lines, a BOM and the header.
  path = tmp_path / 'reviews.tsv'
  path.write_bytes(b'\xef\xbb\xbftext\tlabel\r\n\r\nfirst\t1\r\nsecond\t0\n\nthird\t1\nfourth\t0\n')
  whole = list(data_contract.read_rows(str(path), SENTIMENT))
  for split_bytes in range(1, 40):
    parts = list(plan_parts(str(path), SENTIMENT, split_bytes))
    numbered = []
    for part in parts:
      with open(part.path, 'rb') as f:
        lines = text_example_gen._part_lines(f, part)  # pylint: disable=protected-access
        numbered += list(data_contract.parse_part(lines, path.name, SENTIMENT,
                                                  part.columns, part.first_line, part.header_line))
    assert numbered == whole, split_bytes


@pytest.mark.parametrize('bad_line, message', [
    (b'no label here\n', r"reviews.tsv line 40: 1 field\(s\) \(tab-separated, no quoting\), expected 2"),
    (b'bad\x00\t1\n', r'reviews.tsv line 40: looks like a binary file, not text \(a NUL byte at byte 4'),
    (b'bad\xff\t1\n', r'reviews.tsv line 40: not valid UTF-8 \(byte 0xff at byte 4 of the line\)'),
    (b'fine\t7\n', r"reviews.tsv line 40: 'label' is 7, expected one of \[0, 1\]"),
])
def test_an_error_in_a_later_part_names_the_file_and_line_the_whole_file_reader_names(tmp_path, bad_line, message):
  lines = [b'text\tlabel\n'] + [f'review {i}\t{i % 2}\n'.encode() for i in range(2, 40)] + [bad_line] + [
      b'after\t1\n'] * 20
  path = tmp_path / 'reviews.tsv'
  path.write_bytes(b''.join(lines))
  with pytest.raises(DataContractError, match=message):
    list(read_file_rows(str(path), SENTIMENT))
  parts = list(plan_parts(str(path), SENTIMENT, 64))
  assert len(parts) > 5
  with pytest.raises(DataContractError, match=message):
    [row for part in parts for row in read_part_rows(part, SENTIMENT)]


def test_a_bad_header_stops_the_plan_of_a_large_file(tmp_path):
  path = tmp_path / 'reviews.tsv'
  path.write_bytes(b'sentence\tlabel\n' + b'fine\t1\n' * 100)
  with pytest.raises(DataContractError, match=r"reviews.tsv: column\(s\) 'text' not found"):
    list(plan_parts(str(path), SENTIMENT, 64))


def test_csv_and_time_ordered_files_are_read_whole(tmp_path):
  csv_format = TextFormat(columns=('text', 'label'), delimiter=',', quoting=True)
  path = tmp_path / 'reviews.csv'
  path.write_bytes(b'text,label\n"two\nlines",1\n' * 50)
  assert list(plan_parts(str(path), csv_format, 16)) == [str(path)]  # a part could start inside a quoted field
  forecast = str(DATA / 'beijing_pm25' / 'beijing_pm25_2013_2014.csv')
  assert list(plan_parts(forecast, FORECAST, 1024)) == [forecast]  # the time order follows the file's rows


def _records(examples, split: str):
  """The split's examples, each serialized deterministically (TFX's writer does not sort a feature map)."""
  files = tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], split), '*.gz'))
  for record in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator():
    yield tf.train.Example.FromString(record).SerializeToString(deterministic=True)


def _artifact(uri: str):
  artifact = standard_artifacts.Examples()
  artifact.uri = uri
  return artifact


@pytest.mark.parametrize('split_bytes', [text_example_gen.DEFAULT_SPLIT_BYTES, 50_000])
def test_the_executor_writes_every_example_of_each_split(tmp_path, split_bytes):
  """Through the executor's Beam pipeline (DirectRunner): read whole or in parts, no reshuffle before writing."""
  from tfx.proto import example_gen_pb2  # pylint: disable=g-import-not-at-top
  examples = _artifact(str(tmp_path / 'examples'))
  component = text_example_gen.DelimitedTextExampleGen(
      str(DATA / 'fra_eng'), PAIRS, example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name='pairs',
                                                                                                pattern='*.txt')]),
      example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
          example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=9),
          example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=1)], partition_feature_name='source')),
      split_bytes=split_bytes)
  properties = dict(component.exec_properties)  # the JSON and values TFX's launcher hands the executor
  executor = text_example_gen.Executor(text_example_gen.Executor.Context(
      beam_pipeline_args=['--direct_running_mode=in_memory', '--direct_num_workers=1'],
      tmp_dir=str(tmp_path / 'tmp')))
  executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, properties)
  assert artifact_utils.decode_split_names(examples.split_names) == ['train', 'eval']
  train, evaluation = sorted(_records(examples, 'train')), sorted(_records(examples, 'eval'))
  rows, digest = BEFORE['fra_eng/fra_eng_sample.txt'][1:]
  everything = sorted(train + evaluation)
  assert (len(everything), hashlib.sha256(b''.join(everything)).hexdigest()[:16]) == (rows, digest)
  assert 0.05 < len(evaluation) / rows < 0.15  # the hash split by source sentence, as before
