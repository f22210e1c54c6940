"""Transform (TFX's), writing each split's transformed examples as several files, with their count beside them.

Two things the Trainer needs to read large data from files, and that TFX's Transform does not give it:
- **Files to share out.** TFX writes each split as the runner's shards: on the DirectRunner, often one file. A
  Trainer on several machines (MultiWorkerMirroredStrategy) shards its input by file only when there are at least
  as many files as workers; with fewer, every worker reads all of the data and keeps its part. This executor
  writes every split as `output_shards` files (8 by default), dealing the records to them in turn: no shuffle
  and no grouping, so nothing is held in memory to do it.
- **Counts.** Keras needs the steps of an epoch before it starts; the Trainer would otherwise read every record
  once to count them. The executor counts each split's records and serialized bytes as it writes them and puts
  them in `transformed_counts.json` in the split's folder (core/layout.py); the Trainer reads the count and the
  size, which also tells it whether the split fits its in-memory cache budget.

Everything else is TFX's Transform as it is; the component keeps TFX's Transform spec, inputs and outputs.
"""
import contextlib
import json
import os
from typing import Any, Dict, Iterable, Tuple

import apache_beam as beam
from tfx.components.transform import component as transform_component
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec

from core.layout import TRANSFORMED_COUNTS_FILE

OUTPUT_SHARDS_KEY = 'output_shards'
# TFX's own encoder of transformed record batches as tf.Examples.
_RECORD_BATCH_TO_EXAMPLES = getattr(transform_executor.TransformProcessor, '_RecordBatchToExamplesFn')
DEFAULT_OUTPUT_SHARDS = 8


class _CountAndBytes(beam.CombineFn):
  """(records, serialized bytes) of a PCollection of record lengths."""

  def create_accumulator(self) -> Tuple[int, int]:
    return 0, 0

  def add_input(self, accumulator: Tuple[int, int], length: int) -> Tuple[int, int]:
    return accumulator[0] + 1, accumulator[1] + length

  def merge_accumulators(self, accumulators: Iterable[Tuple[int, int]]) -> Tuple[int, int]:
    counts = list(accumulators)
    return sum(c for c, _ in counts), sum(b for _, b in counts)

  def extract_output(self, accumulator: Tuple[int, int]) -> Tuple[int, int]:
    return accumulator


def _write_counts(count_and_bytes: Tuple[int, int], directory: str, shards: int) -> None:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  records, size = count_and_bytes
  with tf.io.gfile.GFile(os.path.join(directory, TRANSFORMED_COUNTS_FILE), 'w') as f:
    json.dump({'examples': records, 'serialized_bytes': size, 'shards': shards}, f)


class _DealShards(beam.DoFn):
  """Deals records to the shards in turn, as they come: the same input order gives the same shards (a hash of
  the records would not: TFX's encoder writes a feature map in no fixed order, so the bytes differ run to run)."""

  def __init__(self, shards: int):
    self._shards = shards
    self._next = 0

  def start_bundle(self):
    self._next = 0

  def process(self, record: bytes):
    yield beam.pvalue.TaggedOutput(str(self._next), record)
    self._next = (self._next + 1) % self._shards


@beam.ptransform_fn
def _WriteShardsAndCount(pcoll, schema, output_path: str, shards: int):  # pylint: disable=invalid-name
  records = (pcoll
             | 'EncodeAndSerialize' >> beam.ParDo(_RECORD_BATCH_TO_EXAMPLES(schema))
             | 'ExtractExamples' >> beam.Values())
  parts = records | 'Shard' >> beam.ParDo(_DealShards(shards)).with_outputs(*map(str, range(shards)))
  for index in range(shards):
    _ = parts[str(index)] | f'Write[{index}]' >> beam.io.WriteToTFRecord(f'{output_path}-shard{index:02d}',
                                                                        file_name_suffix='.gz')
  return (records
          | 'Lengths' >> beam.Map(len)
          | 'Count' >> beam.CombineGlobally(_CountAndBytes())
          | 'WriteCounts' >> beam.Map(_write_counts, os.path.dirname(output_path), shards))


class _ShardingProcessor(transform_executor.TransformProcessor):
  """TFX's TransformProcessor with the TFRecord writing above."""

  shards = DEFAULT_OUTPUT_SHARDS

  def _EncodeAndWrite(self, schema, file_format: str, output_path: str):  # pylint: disable=arguments-differ
    if file_format != transform_executor.labels.FORMAT_TFRECORD:
      return transform_executor.TransformProcessor._EncodeAndWrite(  # pylint: disable=protected-access
          schema=schema, file_format=file_format, output_path=output_path)
    return _WriteShardsAndCount(  # pylint: disable=no-value-for-parameter
        schema=schema, output_path=output_path, shards=self.shards)


@contextlib.contextmanager
def _processor(processor_class):
  # TFX's Executor.Do builds `TransformProcessor()` by its module-level name and offers no other way to change how
  # it writes: the name points at the subclass for the duration of one Do.
  original = transform_executor.TransformProcessor
  transform_executor.TransformProcessor = processor_class
  try:
    yield
  finally:
    transform_executor.TransformProcessor = original


class ShardedTransformExecutor(transform_executor.Executor):
  """TFX's Transform executor; transformed examples written as above."""

  def Do(self, input_dict: Dict[str, Any], output_dict: Dict[str, Any], exec_properties: Dict[str, Any]) -> None:
    config = json.loads(exec_properties.get('custom_config') or '{}')
    processor = type('ShardingProcessor', (_ShardingProcessor,),
                     {'shards': int(config.get(OUTPUT_SHARDS_KEY) or DEFAULT_OUTPUT_SHARDS)})
    with _processor(processor):
      super().Do(input_dict, output_dict, exec_properties)


class ShardedTransform(transform_component.Transform):
  """TFX's Transform component with ShardedTransformExecutor."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(ShardedTransformExecutor)
