"""Tier 1: the serving smoke test and the push on a filesystem that is not local disk.

TensorFlow's `ram://` filesystem lives in this process and answers `tf.io.gfile` (and TFX's `fileio`, which falls
back to it) like `gs://` would, offline: SavedModels save to it and load from it, and, like an object store, it
has no atomic directory rename (it renames the directory entry only and leaves the files behind, see the first
test). So a real SavedModel is smoke-tested there and pushed there by the real executors, as TFX would call them.
"""
import json
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components import atomic_pusher
from components.atomic_pusher import COMPLETE_MARKER
from components.serving_smoke_test import BLESSED_FILE, ServingSmokeTest, check_signatures

EXAMPLES = 8


class _Doubler(tf.Module):
  """A servable model in the pipeline's shape: `serving_default` takes serialized examples, `predict_raw` the raw
  feature (a raw-input signature the smoke test compares with serving_default)."""

  def __init__(self):
    super().__init__()
    self.scale = tf.Variable(2.0)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve_examples(self, examples):
    x = tf.io.parse_example(examples, {'x': tf.io.FixedLenFeature([], tf.float32)})['x']
    return {'y': x * self.scale}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='x')])
  def predict_raw(self, x):
    return {'y': x * self.scale}


def _example(x: float) -> bytes:
  return tf.train.Example(features=tf.train.Features(
      feature={'x': tf.train.Feature(float_list=tf.train.FloatList(value=[x]))})).SerializeToString()


def _tree(top: str):
  """Every file under `top`, relative to it."""
  return sorted(os.path.join(d, f)[len(top) + 1:] for d, _, files in tf.io.gfile.walk(top) for f in files)


@pytest.fixture
def ram():
  """A fresh ram:// prefix, removed afterwards (ram:// is one store for the whole process)."""
  prefix = f'ram://tfx-lstm-{uuid.uuid4().hex[:8]}'
  yield prefix
  if tf.io.gfile.exists(prefix):
    tf.io.gfile.rmtree(prefix)


@pytest.fixture
def trainer_output(ram):
  """A Model artifact as the Trainer leaves it (`<uri>/Format-Serving/`), and the eval examples, on ram://."""
  model = standard_artifacts.Model()
  model.uri = f'{ram}/Trainer/model/7'
  module = _Doubler()
  tf.saved_model.save(module, os.path.join(model.uri, 'Format-Serving'),
                      signatures={'serving_default': module.serve_examples, 'predict_raw': module.predict_raw})
  examples = standard_artifacts.Examples()
  examples.uri = f'{ram}/ExampleGen/examples/1'
  examples.split_names = json.dumps(['train', 'eval'])
  tf.io.gfile.makedirs(os.path.join(examples.uri, 'Split-eval'))
  with tf.io.TFRecordWriter(os.path.join(examples.uri, 'Split-eval', 'data.gz'), options='GZIP') as writer:
    for i in range(EXAMPLES):
      writer.write(_example(float(i)))
  return model, examples


def _smoke_test(model, examples, uri: str):
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = uri
  tf.io.gfile.makedirs(uri)  # TFX creates output directories before the executor runs
  ServingSmokeTest.EXECUTOR_SPEC.executor_class().Do(
      {'model': [model], 'examples': [examples]}, {'infra_blessing': [blessing]},
      {'split': 'eval', 'num_examples': 32, 'code': ''})
  return blessing


def _push(model, infra_blessing, base: str, keep: int):
  model_blessing = standard_artifacts.ModelBlessing()
  model_blessing.set_int_custom_property('blessed', 1)
  pushed = standard_artifacts.PushedModel()
  atomic_pusher.AtomicPushExecutor().Do(
      {'model': [model], 'model_blessing': [model_blessing], 'infra_blessing': [infra_blessing]},
      {'pushed_model': [pushed]},
      {'push_destination': json.dumps({'filesystem': {'base_directory': base}}),
       'custom_config': json.dumps({'code': 'abc', 'keep_versions': keep})})
  return pushed


def test_ram_filesystem_holds_savedmodels_but_renames_no_directory(ram):
  """Why the remote push never renames a directory: on ram:// (as on an object store) it does not move the files."""
  module = _Doubler()
  tf.saved_model.save(module, f'{ram}/model', signatures={'serving_default': module.serve_examples})
  loaded = tf.saved_model.load(f'{ram}/model')
  assert loaded.signatures['serving_default'](examples=tf.constant([_example(3.0)]))['y'].numpy().tolist() == [6.0]
  assert atomic_pusher.is_local('/srv/models') and atomic_pusher.is_local('file:///srv/models')
  assert not atomic_pusher.is_local(ram) and not atomic_pusher.is_local('gs://bucket/models')
  tf.io.gfile.rename(f'{ram}/model', f'{ram}/1')
  assert tf.io.gfile.isdir(f'{ram}/1') and not tf.io.gfile.exists(f'{ram}/1/saved_model.pb')
  assert tf.io.gfile.exists(f'{ram}/model/saved_model.pb')  # left behind


def test_smoke_test_push_retention_and_load_back_on_ram(trainer_output, ram):
  model, examples = trainer_output
  infra = _smoke_test(model, examples, f'{ram}/ServingSmokeTest/infra_blessing/9')
  assert infra.get_int_custom_property('blessed') == 1, infra.get_string_custom_property('reason')
  assert tf.io.gfile.exists(f'{ram}/ServingSmokeTest/infra_blessing/9/{BLESSED_FILE}')

  base = f'{ram}/serving/forecast'
  # Three Trainer outputs: the model the newest version already holds would be recorded as that version instead.
  models = [model]
  for copy in ('8', '9'):
    models.append(standard_artifacts.Model())
    models[-1].uri = f'{ram}/Trainer/model/{copy}'
    io_utils.copy_dir(model.uri, models[-1].uri)
  pushed = [_push(m, infra, base, keep=2) for m in models]
  versions = [p.get_string_custom_property('pushed_version') for p in pushed]
  assert all(p.get_int_custom_property('pushed') == 1 for p in pushed)
  assert [p.get_string_custom_property('pushed_destination') for p in pushed] == [f'{base}/{v}' for v in versions]
  assert [int(v) for v in versions] == sorted(int(v) for v in versions) and len(set(versions)) == 3
  # Retention: the oldest is gone, every object of it, not only its marker.
  assert atomic_pusher.version_directories(base) == versions[1:]
  assert sorted(n.rstrip('/') for n in tf.io.gfile.listdir(base)) == versions[1:]
  assert tf.io.gfile.glob(f'{base}/{versions[0]}/*') == []
  # The other readers of a remote serving root: `predict --model` and the Kubeflow profile's LatestServedModel.
  from components.served_model import copy_served_model  # pylint: disable=g-import-not-at-top
  from predict import resolve_model_dir  # pylint: disable=g-import-not-at-top
  assert resolve_model_dir(base) == f'{base}/{versions[-1]}'
  assert copy_served_model(base, f'{ram}/LatestServedModel/model/3') == versions[-1]
  assert tf.io.gfile.exists(f'{ram}/LatestServedModel/model/3/Format-Serving/saved_model.pb')
  assert not tf.io.gfile.exists(f'{ram}/LatestServedModel/model/3/Format-Serving/{COMPLETE_MARKER}')
  source_files = _tree(os.path.join(model.uri, 'Format-Serving'))
  for version in versions[1:]:
    assert _tree(f'{base}/{version}') == sorted(source_files + [COMPLETE_MARKER])
    with tf.io.gfile.GFile(f'{base}/{version}/{COMPLETE_MARKER}') as f:
      assert json.load(f)['version'] == version

  # The pushed version loads back from ram:// and answers, and passes the smoke test where it is served.
  served = f'{base}/{versions[-1]}'
  loaded = tf.saved_model.load(served)
  answer = loaded.signatures['serving_default'](examples=tf.constant([_example(1.5), _example(4.0)]))['y']
  np.testing.assert_allclose(answer.numpy(), [3.0, 8.0])
  problems = check_signatures(served, [_example(float(i)) for i in range(EXAMPLES)])
  assert problems == []

  # A rollback's copy (remote to remote) carries the source's files, and a marker of its own, written last.
  again, again_path = atomic_pusher.copy_version(served, base)
  assert atomic_pusher.version_directories(base)[-1] == again and int(again) > int(versions[-1])
  with tf.io.gfile.GFile(f'{again_path}/{COMPLETE_MARKER}') as f:
    marker = json.load(f)
  assert (marker['version'], marker['source']) == (again, served)
  assert _tree(again_path) == _tree(served)


def test_smoke_test_refuses_a_broken_model_on_ram(trainer_output, ram):
  model, examples = trainer_output
  tf.io.gfile.remove(os.path.join(model.uri, 'Format-Serving', 'saved_model.pb'))
  infra = _smoke_test(model, examples, f'{ram}/ServingSmokeTest/infra_blessing/10')
  assert infra.get_int_custom_property('blessed') == 0
  assert infra.get_string_custom_property('reason')


def test_readers_never_see_a_partial_remote_version(trainer_output, ram, monkeypatch):
  """Mid-copy, the version directory exists (as TF Serving would list it) but no reader takes it for a version;
  saved_model.pb is copied after the variables, the marker after everything; a failed copy leaves nothing."""
  model, _ = trainer_output
  base = f'{ram}/serving/sentiment'
  first, _ = atomic_pusher.copy_version(os.path.join(model.uri, 'Format-Serving'), base)
  copied, seen_mid_copy = [], []
  real_copy = fileio.copy

  def watching_copy(src, dst, overwrite=False):
    if dst.startswith(base):
      copied.append(dst[len(base) + 1:].split('/', 1)[1])
      seen_mid_copy.append(atomic_pusher.version_directories(base))
    real_copy(src, dst, overwrite)
  monkeypatch.setattr(fileio, 'copy', watching_copy)
  second, path = atomic_pusher.copy_version(os.path.join(model.uri, 'Format-Serving'), base)
  assert copied[-1] == 'saved_model.pb' and 'variables/variables.index' in copied[:-1]
  assert seen_mid_copy == [[first]] * len(copied)  # the new version was invisible during its whole copy
  assert atomic_pusher.version_directories(base) == [first, second]
  assert fileio.exists(os.path.join(path, COMPLETE_MARKER))

  # A push that dies half-way (a full bucket, a lost connection) leaves no version behind.
  def failing_copy(src, dst, overwrite=False):
    if dst.endswith('variables.index'):
      raise tf.errors.ResourceExhaustedError(None, None, 'bucket full')
    real_copy(src, dst, overwrite)
  monkeypatch.setattr(fileio, 'copy', failing_copy)
  with pytest.raises(tf.errors.ResourceExhaustedError):
    atomic_pusher.copy_version(os.path.join(model.uri, 'Format-Serving'), base)
  assert sorted(n.rstrip('/') for n in tf.io.gfile.listdir(base)) == [first, second]

  # A crashed push (no chance to clean up) leaves a numeric directory without its marker: readers ignore it,
  # pruning leaves it (it may be a copy in flight), and the next push numbers above it.
  crashed = str(int(second) + 100)
  tf.io.gfile.makedirs(f'{base}/{crashed}/variables')
  assert atomic_pusher.version_directories(base) == [first, second]
  assert atomic_pusher.prune_versions(base, 1) == [f'{base}/{first}']
  assert atomic_pusher.version_directories(base) == [second]
  monkeypatch.setattr(fileio, 'copy', real_copy)
  third, _ = atomic_pusher.copy_version(os.path.join(model.uri, 'Format-Serving'), base)
  assert int(third) > int(crashed) and atomic_pusher.version_directories(base) == [second, third]


def test_local_push_is_a_rename_with_its_provenance_note(trainer_output, tmp_path):
  """Local disk keeps its atomic rename (a ram:// model pushed to a local serving root); the version's note, which
  names the model it holds, arrives with the rename."""
  model, _ = trainer_output
  base = str(tmp_path / 'serving')
  version, path = atomic_pusher.copy_version(os.path.join(model.uri, 'Format-Serving'), base)
  assert os.listdir(base) == [version]
  assert _tree(path) == sorted(_tree(os.path.join(model.uri, 'Format-Serving')) + [COMPLETE_MARKER])
  assert atomic_pusher.pushed_source(path) == os.path.join(model.uri, 'Format-Serving')
  assert atomic_pusher.version_directories(base) == [version]
  tf.saved_model.load(path)
