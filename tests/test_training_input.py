"""The Trainer's input (trainer/common.make_dataset): streamed from the transformed shards, counted from what
Transform recorded, cached only within the budget, and shared out by file across workers."""
import json
import os

import pytest
import tensorflow as tf

from core.layout import TRANSFORMED_COUNTS_FILE
from trainer import common

SPEC = {'x': tf.io.FixedLenFeature([1], tf.int64), 'label': tf.io.FixedLenFeature([1], tf.int64)}


class _FeatureSpec:
  """What make_dataset asks of a TFTransformOutput: the transformed feature spec."""

  def transformed_feature_spec(self):
    return dict(SPEC)


def _write_split(directory, examples: int, shards: int, counts: bool = True) -> str:
  """`examples` records x = 0..n-1 over `shards` gzip files, as Transform's executor writes them."""
  os.makedirs(directory)
  size = 0
  writers = [tf.io.TFRecordWriter(os.path.join(directory, f'transformed_examples-shard{i:02d}-00000-of-00001.gz'),
                                  options='GZIP') for i in range(shards)]
  for x in range(examples):
    record = tf.train.Example(features=tf.train.Features(feature={
        'x': tf.train.Feature(int64_list=tf.train.Int64List(value=[x])),
        'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[x % 2]))})).SerializeToString()
    writers[x % shards].write(record)
    size += len(record)
  for writer in writers:
    writer.close()
  if counts:
    with open(os.path.join(directory, TRANSFORMED_COUNTS_FILE), 'w') as f:
      json.dump({'examples': examples, 'serialized_bytes': size, 'shards': shards}, f)
  return os.path.join(directory, '*')


def _xs(dataset):
  return [int(v) for features, _ in dataset for v in features['x'].numpy().reshape(-1)]


def test_counts_come_from_transform_and_the_counting_pass_agrees(tmp_path):
  recorded = _write_split(str(tmp_path / 'a'), 1000, 4)
  counted = _write_split(str(tmp_path / 'b'), 1000, 4, counts=False)
  _, plan = common.make_dataset([recorded], _FeatureSpec(), 'label', 64, shuffle=False)
  _, fallback = common.make_dataset([counted], _FeatureSpec(), 'label', 64, shuffle=False)
  assert (plan['examples'], plan['counted_by'], plan['files']) == (1000, 'Transform', 4)
  assert (fallback['examples'], fallback['serialized_bytes'], fallback['counted_by']) == (
      1000, plan['serialized_bytes'], 'a counting pass')


def test_eval_reads_every_example_once_and_training_full_batches_reshuffled(tmp_path):
  pattern = _write_split(str(tmp_path / 'split'), 1000, 4)
  evaluation, plan = common.make_dataset([pattern], _FeatureSpec(), 'label', 64, shuffle=False)
  assert sorted(_xs(evaluation)) == list(range(1000)) and plan['batches'] == 16
  assert evaluation.cardinality().numpy() == 16
  train, plan = common.make_dataset([pattern], _FeatureSpec(), 'label', 64, shuffle=True, seed=3)
  first, second = _xs(train), _xs(train)  # two epochs
  assert len(first) == len(second) == 15 * 64 and plan['batches'] == 15
  assert len(set(first)) == len(first) and first != second  # no repeats within an epoch; reshuffled
  again, _ = common.make_dataset([pattern], _FeatureSpec(), 'label', 64, shuffle=True, seed=3)
  assert _xs(again) == first  # the same seed, the same order


def test_only_a_split_within_the_budget_is_cached(tmp_path):
  pattern = _write_split(str(tmp_path / 'split'), 300, 2)
  _, small = common.make_dataset([pattern], _FeatureSpec(), 'label', 32, shuffle=True,
                                 cache_budget_bytes=10**6)
  _, large = common.make_dataset([pattern], _FeatureSpec(), 'label', 32, shuffle=True, cache_budget_bytes=100)
  assert small['cached'] and not large['cached'] and small['serialized_bytes'] > 100
  streamed, _ = common.make_dataset([pattern], _FeatureSpec(), 'label', 32, shuffle=False, cache_budget_bytes=0)
  assert sorted(_xs(streamed)) == list(range(300))


@pytest.mark.parametrize('task, shards, expected', [
    ({'type': 'worker', 'index': 0}, 4, ['shard00', 'shard02']),
    ({'type': 'worker', 'index': 1}, 4, ['shard01', 'shard03']),
    ({'type': 'worker', 'index': 1}, 1, None),  # fewer shards than workers: every worker reads all, by data
])
def test_workers_read_only_their_shards(tmp_path, monkeypatch, task, shards, expected):
  pattern = _write_split(str(tmp_path / 'split'), 400, shards)
  monkeypatch.setenv('TF_CONFIG', json.dumps({'cluster': {'worker': ['localhost:1', 'localhost:2']}, 'task': task}))
  train, plan = common.make_dataset([pattern], _FeatureSpec(), 'label', 64, shuffle=True)
  if expected is None:
    assert plan['sharding'] == 'data' and 'worker_files' not in plan
    return
  assert plan['sharding'] == 'file' and [f.split('-')[1] for f in plan['worker_files']] == expected
  shard = int(expected[0][-2:])
  # Every example this worker reads is one of its shards' (x % 4 picked the shard), and it takes the global
  # count's batches, as the other worker does.
  assert {x % 4 for x in _xs(train)} == {shard, shard + 2} and plan['batches'] == 400 // 64


def test_transform_deals_records_to_its_shards_in_turn():
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from apache_beam.testing.util import assert_that, equal_to  # pylint: disable=g-import-not-at-top
  from components.sharded_transform import _DealShards  # pylint: disable=g-import-not-at-top
  records = [f'record {i}'.encode() for i in range(20)]
  with beam.Pipeline() as pipeline:
    shards = (pipeline | beam.Create(records, reshuffle=False)
              | beam.ParDo(_DealShards(8)).with_outputs(*map(str, range(8))))
    for index in range(8):
      assert_that(shards[str(index)], equal_to(records[index::8]), label=f'shard{index}')
