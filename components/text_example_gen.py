"""DelimitedTextExampleGen: delimited text files (CSV with RFC 4180 quoting, or tab-separated without quoting)
-> tf.Examples, for every task, in memory bounded by a record whatever the files' sizes.

CsvExampleGen takes the header as the first line split on commas (so `"Date","Temp"` gives names with quotes)
and its quote-aware reader would merge lines of SST-2 and the Tatoeba pairs, whose sentences contain bare `"`.
This executor parses the files with the data contract's line parser (`core/data_contract.py`), the same one the
CLI's pre-flight check uses, so both agree on every row and name file and line on any violation.

Reading. Every file is read as a stream of lines through `tf.io.gfile` (local paths, gs:// and the like), never
whole. A file larger than `split_bytes` (64 MB by default) in a format whose records are one line each (tab-
separated files and translate pairs: no quoting, no time order to follow) is read in parts of that many bytes,
spread over Beam's workers: one pass over the file counts its line ends so that every part knows the number of
its first line (errors still name file and line), its header is read once, and each part parses the lines that
start inside it. CSV with quoting is read per file, since a quoted field may hold a line break and a part could
start inside one; forecast files are read per file, since their time order and gaps are checked row after row.
Either way one file's rows are never all in memory.

Writing. TFX's WriteSplit reshuffles each split before writing it (`beam.Reshuffle`); on the in-memory
DirectRunner a reshuffle holds the whole split in memory. The Trainer shuffles its input anyway (and Transform
re-reads every split), so this executor writes each split as it is produced: the same examples (as a set) in
the same TFRecord format, in less memory.

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
import dataclasses
import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from absl import logging
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.proto import range_config_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils
from tfx.components.util import examples_utils

from core.data_contract import SPAN_FOLDER
from core.data_contract import DataContractError
from core.data_contract import TextFormat
from core.data_contract import parse_lines
from core.data_contract import parse_part
from core.data_contract import read_header
from core.names import SPANS_READ_PROPERTY

DEFAULT_SPLIT_BYTES = 64 * 2**20  # parts of a large one-record-per-line file read by different Beam workers
_COUNT_CHUNK = 8 * 2**20  # bytes read at a time when counting a file's line ends


def read_file_rows(path: str, text_format: TextFormat) -> Iterator[Dict[str, Any]]:
  """The rows of one whole file, streamed through tf.io.gfile (all of the contract's file rules checked)."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    for _, row in parse_lines(f, os.path.basename(path), text_format):
      yield row


def splittable(text_format: TextFormat) -> bool:
  """Whether a file of this format can be read in parts: one record per line, no order between rows."""
  return not text_format.quoting and not text_format.time_column


@dataclasses.dataclass(frozen=True)
class FilePart:
  """Bytes [start, end) of a file: the lines that start there, the first numbered `first_line`; the file's
  columns, and the line of its header (0: none), which the first part skips."""
  path: str
  start: int
  end: int
  first_line: int
  columns: Tuple[str, ...]
  header_line: int


def plan_parts(path: str, text_format: TextFormat, split_bytes: int) -> Iterator[Union[str, FilePart]]:
  """A small file (or one that cannot be split) as itself, for `read_file_rows`; a large one as FileParts, after
  one streaming pass over it that counts the line ends before each part's start."""
  size = tf.io.gfile.stat(path).length
  if size <= split_bytes or not splittable(text_format):
    yield path
    return
  with tf.io.gfile.GFile(path, 'rb') as f:
    columns, header_line = read_header(f, os.path.basename(path), text_format)
    f.seek(0)
    starts = list(range(0, size, split_bytes))
    first_lines = {0: 1}
    line_ends, offset, last_byte = 0, 0, b''
    for start in starts[1:]:
      while offset < start:
        chunk = f.read(min(_COUNT_CHUNK, start - offset))
        line_ends += chunk.count(b'\n')
        offset += len(chunk)
        last_byte = chunk[-1:]
      # A part owns the lines that start inside it: when `start` is mid-line, that line is its predecessor's.
      first_lines[start] = line_ends + (1 if last_byte == b'\n' else 2)
  for start in starts:
    yield FilePart(path, start, min(start + split_bytes, size), first_lines[start], tuple(columns), header_line)


def _part_lines(f, part: FilePart) -> Iterator[bytes]:
  """The lines of an open file that start in [part.start, part.end)."""
  if part.start:
    f.seek(part.start - 1)
    if f.read(1) != b'\n':
      f.readline()  # the rest of a line that started before the part
  while f.tell() < part.end:
    line = f.readline()
    if not line:
      return
    yield line


def read_part_rows(part: Union[str, FilePart], text_format: TextFormat) -> Iterator[Dict[str, Any]]:
  """The rows of a whole file (a path) or of a FilePart of one."""
  rows = 0
  if isinstance(part, str):
    where = os.path.basename(part)
    for row in read_file_rows(part, text_format):
      rows += 1
      yield row
  else:
    where = f'{os.path.basename(part.path)} bytes {part.start:,}-{part.end:,}'
    with tf.io.gfile.GFile(part.path, 'rb') as f:
      for _, row in parse_part(_part_lines(f, part), os.path.basename(part.path), text_format, part.columns,
                               part.first_line, part.header_line):
        rows += 1
        yield row
  # Which process read what: on a cluster (or with --beam-workers), a worker's, not the launching process'.
  logging.info('DelimitedTextExampleGen read %s: %d rows, in process %d', where, rows, os.getpid())


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
  split_bytes = int(config.get('split_bytes') or DEFAULT_SPLIT_BYTES)
  # Reshuffles of file names and part descriptions only (a few bytes each): they spread the reading over the
  # workers; the rows themselves are never reshuffled.
  return (pipeline
          | 'Files' >> beam.Create(files)
          | 'SpreadFiles' >> beam.Reshuffle()
          | 'Plan' >> beam.FlatMap(plan_parts, text_format, split_bytes)
          | 'SpreadParts' >> beam.Reshuffle()
          | 'Parse' >> beam.FlatMap(read_part_rows, text_format)
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
    """TFX's ExampleGen `Do`, writing each split without TFX's reshuffle (module docstring)."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
    examples_artifact = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
    examples_artifact.split_names = artifact_utils.encode_split_names(
        utils.generate_output_split_names(input_config, output_config))
    with self._make_beam_pipeline() as pipeline:
      for split_name, examples in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
        _ = (examples
             | f'Serialize[{split_name}]' >> beam.Map(lambda example: example.SerializeToString())
             | f'Write[{split_name}]' >> beam.io.WriteToTFRecord(
                 os.path.join(artifact_utils.get_split_uri([examples_artifact], split_name),
                              write_split.DEFAULT_TF_RECORD_FILE_NAME),
                 file_name_suffix='.gz'))
    # As TFX's Do records them (the component always sets both; the format written is TFRecords with gzip).
    payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    if payload_format:
      examples_utils.set_payload_format(examples_artifact, payload_format)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format:
      examples_utils.set_file_format(examples_artifact, write_split.to_file_format_str(file_format))
    # Which spans the examples hold, for run records and reports (the artifact's `span` is the newest one).
    spans_back = json.loads(exec_properties['custom_config']).get('spans_back', 1)
    spans = spans_read(exec_properties['input_base'], input_config.splits[0].pattern, spans_back)
    for examples in output_dict['examples']:
      examples.set_string_custom_property(SPANS_READ_PROPERTY, ','.join(map(str, spans)))


def DelimitedTextExampleGen(input_base: str, text_format: TextFormat,  # pylint: disable=invalid-name
                            input_config: example_gen_pb2.Input,
                            output_config: Optional[example_gen_pb2.Output] = None,
                            code: str = '', spans_back: int = 1,
                            span: Optional[int] = None, split_bytes: int = DEFAULT_SPLIT_BYTES) -> FileBasedExampleGen:
  """A FileBasedExampleGen that reads `input_base` with this module's executor; `code` (this module's code
  fingerprint) is part of the cache key only. With `span-{SPAN}/` patterns, `span` pins a span number (TFX's
  RangeConfig; default: the newest) and `spans_back` says how many spans up to it are read (0: all). Files larger
  than `split_bytes` are read in parts of that size where the format allows it (module docstring)."""
  range_config = None
  if span is not None:
    range_config = range_config_pb2.RangeConfig(static_range=range_config_pb2.StaticRange(
        start_span_number=span, end_span_number=span))
  return FileBasedExampleGen(
      input_base=input_base,
      input_config=input_config,
      output_config=output_config,
      range_config=range_config,
      custom_config={'text_format': text_format.to_json(), 'code': code, 'spans_back': spans_back,
                     'split_bytes': split_bytes},
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor))
