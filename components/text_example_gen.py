"""DelimitedTextExampleGen: delimited text files (CSV with RFC 4180 quoting, or tab-separated without quoting)
-> tf.Examples, for every task.

CsvExampleGen takes the header as the first line split on commas (so `"Date","Temp"` gives names with quotes)
and its quote-aware reader would merge lines of SST-2 and the Tatoeba pairs, whose sentences contain bare `"`.
This executor parses each file with the data contract's `parse_rows` (`core/data_contract.py`), the same
reader the CLI's pre-flight check uses, so both agree on every row and name file and line on any violation.

Configuration (the component's `custom_config`): the task's `TextFormat`: delimiter and quoting, whether files
have a header (else `columns` names the fields in order; extra fields up to `max_fields` are ignored), integer and
float columns, allowed values, non-empty columns, a maximum line length and, for forecast rows, the time order
(each file's rows in time order per series, no repeated timestamp, no gap longer than allowed). A missing float
value is left out of the example. Bad input stops the executor with the contract's DataContractError (file and
line in its message): on Kubeflow there is no CLI pre-flight check, this is the check.

Spans: with `span-{SPAN}/` patterns TFX's driver resolves the newest span (or the one a RangeConfig pins) and
hands this executor that span's pattern; `spans_back` in the config makes it read the spans before it as well
(0: every earlier span), so a series keeps its history. The driver fingerprints the newest span's files only:
spans are expected not to change once they have landed.
"""
import json
import os
import re
from typing import Any, Dict, List, Optional

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.proto import range_config_pb2
from tfx.utils import proto_utils

from core.data_contract import SPAN_FOLDER
from core.data_contract import DataContractError
from core.data_contract import TextFormat
from core.data_contract import parse_rows
from core.names import SPANS_READ_PROPERTY



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
  config = json.loads(exec_properties['custom_config'])
  text_format = TextFormat.from_json(config['text_format'])
  files = []
  for pattern in span_patterns(exec_properties['input_base'], split_pattern, config.get('spans_back', 1)):
    # Hidden files (`._x.csv` from macOS archives) are skipped, as the pre-flight check skips them.
    found = sorted(f for f in tf.io.gfile.glob(pattern) if not os.path.basename(f).startswith('.'))
    if not found:
      raise DataContractError(f'no input files match {pattern}')
    files += found
  return (pipeline
          | 'Files' >> beam.Create(files)
          | 'Parse' >> beam.FlatMap(read_file_rows, text_format)
          | 'ToExample' >> beam.Map(row_to_example))


_RESOLVED_SPAN = re.compile(r'^span-(\d+)/')


def spans_read(input_base: str, resolved_pattern: str, spans_back: int) -> List[int]:
  """The span numbers one split pattern reads: the resolved (newest) span and up to `spans_back` - 1 before it
  (0: all); empty when the pattern has no span folder."""
  match = _RESOLVED_SPAN.match(resolved_pattern)
  if not match:
    return []
  newest = int(match.group(1))
  present = sorted(int(m.group(1)) for m in (SPAN_FOLDER.match(os.path.basename(d.rstrip('/')))
                                             for d in tf.io.gfile.glob(os.path.join(input_base, 'span-*')))
                   if m and int(m.group(1)) <= newest)
  present = sorted(set(present) | {newest})
  return present[-spans_back:] if spans_back else present


def span_patterns(input_base: str, resolved_pattern: str, spans_back: int) -> List[str]:
  """Full file patterns for every span `spans_read` names (or the pattern itself without spans)."""
  spans = spans_read(input_base, resolved_pattern, spans_back)
  tail = _RESOLVED_SPAN.sub('', resolved_pattern, count=1)
  if not spans:
    return [os.path.join(input_base, resolved_pattern)]
  return [os.path.join(input_base, f'span-{span}', tail) for span in spans]


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """ExampleGen executor for delimited text files (see the module docstring)."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _DelimitedTextToExample

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    super().Do(input_dict, output_dict, exec_properties)
    # Which spans the examples hold, for run records and reports (the artifact's `span` is the newest one).
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties['input_config'], input_config)
    spans_back = json.loads(exec_properties['custom_config']).get('spans_back', 1)
    spans = spans_read(exec_properties['input_base'], input_config.splits[0].pattern, spans_back)
    for examples in output_dict['examples']:
      examples.set_string_custom_property(SPANS_READ_PROPERTY, ','.join(map(str, spans)))


def DelimitedTextExampleGen(input_base: str, text_format: TextFormat,  # pylint: disable=invalid-name
                            input_config: example_gen_pb2.Input,
                            output_config: Optional[example_gen_pb2.Output] = None,
                            code: str = '', spans_back: int = 1,
                            span: Optional[int] = None) -> FileBasedExampleGen:
  """A FileBasedExampleGen that reads `input_base` with this module's executor; `code` (this module's code
  fingerprint) is part of the cache key only. With `span-{SPAN}/` patterns, `span` pins a span number (TFX's
  RangeConfig; default: the newest) and `spans_back` says how many spans up to it are read (0: all)."""
  range_config = None
  if span is not None:
    range_config = range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
        start_span_number=span, end_span_number=span))
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=input_config,
      output_config=output_config,
      range_config=range_config,
      custom_config={'text_format': text_format.to_json(), 'code': code, 'spans_back': spans_back},
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))
