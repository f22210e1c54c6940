"""DelimitedTextExampleGen: delimited text files (CSV with RFC 4180 quoting, or tab-separated without quoting)
-> tf.Examples, for every task.

CsvExampleGen takes the header as the first line split on commas (so `"Date","Temp"` gives names with quotes)
and its quote-aware reader would merge lines of SST-2 and the Tatoeba pairs, whose sentences contain bare `"`.
This executor parses each file with the data contract's `parse_rows` (`components/data_contract.py`), the same
reader the CLI's pre-flight check uses, so both agree on every row and name file and line on any violation.

Configuration (the component's `custom_config`): the task's `TextFormat`: delimiter and quoting, whether files
have a header (else `columns` names the fields in order; extra fields are ignored), integer and float columns,
allowed values, non-empty columns and a maximum line length. A missing float value is left out of the example.
"""
import json
import os
from typing import Any, Dict, Optional

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.data_contract import DataContractError
from components.data_contract import TextFormat
from components.data_contract import parse_rows


def read_file_rows(path: str, text_format: TextFormat):
  """`parse_rows` on a file read through tf.io.gfile (local paths, gs:// and the like)."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    content = f.read()
  return [row for _, row in parse_rows(content, os.path.basename(path), text_format)]


def row_to_example(row: Dict[str, Any]) -> tf.train.Example:
  features = {}
  for column, value in row.items():
    if value is None:  # a missing number: absent, as CsvExampleGen writes an empty cell
      continue
    if isinstance(value, int):
      features[column] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    elif isinstance(value, float):
      features[column] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    else:
      features[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode('utf-8')]))
  return tf.train.Example(features=tf.train.Features(feature=features))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _DelimitedTextToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],  # pylint: disable=invalid-name
                            split_pattern: str) -> beam.pvalue.PCollection:
  text_format = TextFormat.from_json(json.loads(exec_properties['custom_config'])['text_format'])
  pattern = os.path.join(exec_properties['input_base'], split_pattern)
  # Hidden files (`._x.csv` from macOS archives) are skipped, as the pre-flight check skips them.
  files = sorted(f for f in tf.io.gfile.glob(pattern) if not os.path.basename(f).startswith('.'))
  if not files:
    raise DataContractError(f'no input files match {pattern}')
  return (pipeline
          | 'Files' >> beam.Create(files)
          | 'Parse' >> beam.FlatMap(read_file_rows, text_format)
          | 'ToExample' >> beam.Map(row_to_example))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for delimited text files (see the module docstring)."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _DelimitedTextToExample


def DelimitedTextExampleGen(input_base: str, text_format: TextFormat,  # pylint: disable=invalid-name
                            input_config: example_gen_pb2.Input,
                            output_config: Optional[example_gen_pb2.Output] = None,
                            code: str = '') -> FileBasedExampleGen:
  """A FileBasedExampleGen that reads `input_base` with this module's executor; `code` (this module's code
  fingerprint) is part of the cache key only."""
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=input_config,
      output_config=output_config,
      custom_config={'text_format': text_format.to_json(), 'code': code},
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))
