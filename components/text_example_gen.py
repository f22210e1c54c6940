"""DelimitedTextExampleGen: tab- (or otherwise) delimited text files -> tf.Examples, with no quoting.

CsvExampleGen follows CSV quoting rules, which SST-2 and the Tatoeba pairs break: sentences contain `"`, and
a quote-aware reader silently merges lines. This executor splits every line on the delimiter and nothing else
(QUOTE_NONE), checks each line against the task's contract and names file and line on any violation.

Configuration (the component's `custom_config`, see `TextFormat`): delimiter, whether files have a header
(else `columns` names the fields in order; extra fields are ignored), which columns are integers and their
allowed values, which must be non-empty, and a maximum line length.
"""
import dataclasses
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.windowing import DataContractError


@dataclasses.dataclass(frozen=True)
class TextFormat:
  """What a line of the input files must look like."""
  columns: Tuple[str, ...]  # with a header: the columns that must exist; without: the fields' names in order
  delimiter: str = '\t'
  header: bool = True
  int_columns: Tuple[str, ...] = ()
  allowed_values: Dict[str, Tuple[int, ...]] = dataclasses.field(default_factory=dict)
  non_empty: Tuple[str, ...] = ()
  max_line_chars: int = 0  # > 0: longer lines are an error (a file that is not one record a line)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'TextFormat':
    fields = json.loads(text)
    for name in ('columns', 'int_columns', 'non_empty'):
      fields[name] = tuple(fields[name])
    fields['allowed_values'] = {k: tuple(v) for k, v in fields['allowed_values'].items()}
    return cls(**fields)


def _decode(raw: bytes, where: str) -> str:
  try:
    return raw.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DataContractError(f'{where}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1})'
                            ) from None


def read_rows(path: str, text_format: TextFormat) -> Iterator[Tuple[int, Dict[str, Any]]]:
  """Yields (line number, {column: value}) for every non-blank line of `path`; raises DataContractError."""
  name = os.path.basename(path)
  with tf.io.gfile.GFile(path, 'rb') as f:
    content = f.read()
  if not content.strip():
    raise DataContractError(f'{path} is empty: expected ' + ('a header row and ' if text_format.header else '')
                            + 'data rows')
  lines = content.removeprefix(b'\xef\xbb\xbf').split(b'\n')  # a UTF-8 byte-order mark is not part of a name
  columns: Optional[List[str]] = None if text_format.header else list(text_format.columns)
  for number, raw in enumerate(lines, start=1):
    where = f'{name} line {number}'
    line = _decode(raw, where).rstrip('\r')
    if columns is None:
      columns = [c.strip() for c in line.split(text_format.delimiter)]
      missing = [c for c in text_format.columns if c not in columns]
      if missing:
        raise DataContractError(f'{name}: column(s) {", ".join(map(repr, missing))} not in the header '
                                f'{columns} (fields separated by {text_format.delimiter!r})')
      continue
    if not line.strip():
      continue
    if text_format.max_line_chars and len(line) > text_format.max_line_chars:
      raise DataContractError(f'{where}: {len(line):,} characters, more than the {text_format.max_line_chars:,} '
                              'allowed for one record (raise the limit if such lines are intended)')
    fields = line.split(text_format.delimiter)
    if len(fields) < len(columns) or (text_format.header and len(fields) > len(columns)):
      raise DataContractError(f'{where}: {len(fields)} field(s) separated by {text_format.delimiter!r}, '
                              f'expected {len(columns)} ({", ".join(columns)})')
    row: Dict[str, Any] = dict(zip(columns, fields))
    for column in text_format.non_empty:
      if not row[column].strip():
        raise DataContractError(f'{where}: empty {column!r}')
    for column in text_format.int_columns:
      try:
        row[column] = int(row[column].strip())
      except ValueError:
        raise DataContractError(f'{where}: {column!r} is {row[column]!r}, not an integer') from None
      allowed = text_format.allowed_values.get(column)
      if allowed and row[column] not in allowed:
        raise DataContractError(f'{where}: {column!r} is {row[column]}, expected one of {list(allowed)}')
    yield number, row
  if columns is None:
    raise DataContractError(f'{path} is empty: expected a header row')


def row_to_example(row: Dict[str, Any]) -> tf.train.Example:
  features = {}
  for column, value in row.items():
    if isinstance(value, int):
      features[column] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    else:
      features[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode('utf-8')]))
  return tf.train.Example(features=tf.train.Features(feature=features))


def check_files(paths: List[str], text_format: TextFormat) -> int:
  """Reads every file once (the CLI's pre-flight check); returns the number of rows."""
  rows = 0
  for path in paths:
    file_rows = sum(1 for _ in read_rows(path, text_format))
    if not file_rows:
      raise DataContractError(f'{path} has no data rows')
    rows += file_rows
  return rows


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _DelimitedTextToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],  # pylint: disable=invalid-name
                            split_pattern: str) -> beam.pvalue.PCollection:
  text_format = TextFormat.from_json(json.loads(exec_properties['custom_config'])['text_format'])
  pattern = os.path.join(exec_properties['input_base'], split_pattern)
  files = sorted(tf.io.gfile.glob(pattern))
  if not files:
    raise DataContractError(f'no input files match {pattern}')
  return (pipeline
          | 'Files' >> beam.Create(files)
          | 'Parse' >> beam.FlatMap(lambda path: (row for _, row in read_rows(path, text_format)))
          | 'ToExample' >> beam.Map(row_to_example))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for delimited text without quoting."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _DelimitedTextToExample


def DelimitedTextExampleGen(input_base: str, text_format: TextFormat,  # pylint: disable=invalid-name
                            input_config: example_gen_pb2.Input,
                            output_config: Optional[example_gen_pb2.Output] = None) -> FileBasedExampleGen:
  """A FileBasedExampleGen that reads `input_base` with this module's executor."""
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=input_config,
      output_config=output_config,
      custom_config={'text_format': text_format.to_json()},
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))
