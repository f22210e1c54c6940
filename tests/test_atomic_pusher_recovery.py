"""Tier 1: what the Pusher and the start of a run do about earlier runs that were killed.

The Pusher's executor is called as TFX calls it, on a tiny stand-in SavedModel directory (a few files: the push
copies files, it does not load them); the recovery runs against a real ML Metadata SQLite store written the way
TFX's launcher leaves a killed run. tests/test_crash_recovery.py kills real runs.
"""
import errno
import json
import os
import stat
import time

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components import atomic_pusher
from components.atomic_pusher import COMPLETE_MARKER
from orchestration import recovery
from records import run_record

Artifact, Event, Execution = metadata_store_pb2.Artifact, metadata_store_pb2.Event, metadata_store_pb2.Execution


def _model(tmp_path, name: str) -> standard_artifacts.Model:
  """A Model artifact as the Trainer leaves it: `<uri>/Format-Serving/` (a stand-in SavedModel) and `warm_start/`."""
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / name)
  serving = tmp_path / name / 'Format-Serving'
  (serving / 'variables').mkdir(parents=True)
  (serving / 'saved_model.pb').write_bytes(name.encode())
  (serving / 'variables' / 'variables.index').write_bytes(b'index')
  (tmp_path / name / 'warm_start').mkdir()
  (tmp_path / name / 'warm_start' / 'state.json').write_text('{}')
  return model


def _push(model: standard_artifacts.Model, base: str, keep: int = 5) -> standard_artifacts.PushedModel:
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property('blessed', 1)
  pushed = standard_artifacts.PushedModel()
  atomic_pusher.AtomicPushExecutor().Do(
      {'model': [model], 'model_blessing': [blessing]}, {'pushed_model': [pushed]},
      {'push_destination': json.dumps({'filesystem': {'base_directory': base}}),
       'custom_config': json.dumps({'keep_versions': keep})})
  return pushed


def _pushed(pushed: standard_artifacts.PushedModel):
  return (pushed.get_int_custom_property('pushed'), pushed.get_string_custom_property('pushed_version'),
          pushed.get_string_custom_property('pushed_destination'))


def _source(model: standard_artifacts.Model) -> str:
  return os.path.join(model.uri, 'Format-Serving')


# The Pusher

def test_a_clock_set_back_still_pushes_above_the_newest_version_and_staging_leftovers_go(tmp_path, monkeypatch):
  base = str(tmp_path / 'serving')
  os.makedirs(os.path.join(base, '5000000000'))  # pushed when the clock read 2128
  leftover = os.path.join(base, '.staging-900000000-0badf00d')  # a push killed mid-copy in 1998
  os.makedirs(os.path.join(leftover, 'variables'))
  os.makedirs(os.path.join(base, '.removing-800000000-0badf00d'))  # a prune killed mid-delete
  # Younger than an hour by the clock (or from before it was set back): maybe another push still copying. The
  # Pusher holds no lock where Airflow or Kubeflow run it, so it leaves these to the locked recovery.
  young = ['.removing-999999000-0badf00d', '.staging-6000000000-0badf00d']
  for name in young:
    os.makedirs(os.path.join(base, name))
  monkeypatch.setattr(atomic_pusher.time, 'time', lambda: 1_000_000_000.0)  # 2001
  model = _model(tmp_path, 'model')
  pushed = _push(model, base)
  assert _pushed(pushed) == (1, '5000000001', os.path.join(base, '5000000001'))
  assert sorted(os.listdir(base)) == young + ['5000000000', '5000000001']  # old leftovers gone, no staging left
  with open(os.path.join(base, '5000000001', COMPLETE_MARKER)) as f:
    assert json.load(f) == {'version': '5000000001', 'source': _source(model), 'pushed_at': 1_000_000_000}
  assert sorted(os.listdir(os.path.join(base, '5000000001'))) == [
      COMPLETE_MARKER, 'saved_model.pb', 'variables', 'warm_start']


def test_a_clock_set_back_pushes_above_an_unfinished_remote_version(tmp_path, monkeypatch):
  """On a remote filesystem (ram://) a crashed push leaves a numeric directory without its marker: not a version,
  but its number is never reused, whatever the clock says."""
  base = f'ram://tfx-lstm-clock-{os.getpid()}-{time.time_ns()}/serving'
  try:
    model = _model(tmp_path, 'model')
    monkeypatch.setattr(atomic_pusher.time, 'time', lambda: 3_000_000_000.0)
    first, _ = atomic_pusher.copy_version(_source(model), base)
    tf.io.gfile.makedirs(f'{base}/{int(first) + 50}/variables')  # crashed before its marker
    monkeypatch.setattr(atomic_pusher.time, 'time', lambda: 1_000_000_000.0)
    second, _ = atomic_pusher.copy_version(_source(model), base)
    assert int(second) == int(first) + 51
    assert atomic_pusher.version_directories(base) == [first, second]
  finally:
    tf.io.gfile.rmtree(base.rsplit('/', 1)[0])


def test_a_model_the_newest_version_holds_is_not_pushed_twice(tmp_path):
  """A re-run whose Pusher finds its model already the newest version (the earlier push was renamed into place but
  TFX never recorded it) records that version instead of copying again; any other model is a new version."""
  base = str(tmp_path / 'serving')
  first, second = _model(tmp_path, 'first'), _model(tmp_path, 'second')
  pushed, version, destination = _pushed(_push(first, base))
  assert pushed == 1 and destination == os.path.join(base, version)
  assert _pushed(_push(first, base)) == (1, version, destination)
  assert atomic_pusher.version_directories(base) == [version]

  _, newer, _ = _pushed(_push(second, base))
  assert int(newer) > int(version)
  # The first model again: the newest version holds another model (a rollback, or a later push), so it is pushed.
  _, again, _ = _pushed(_push(first, base))
  assert int(again) > int(newer) and atomic_pusher.version_directories(base) == [version, newer, again]
  assert atomic_pusher.pushed_source(os.path.join(base, again)) == _source(first)


def test_a_version_without_a_note_is_pushed_over_as_before(tmp_path):
  """Versions pushed before the note existed (or copied in by hand) do not stop a push."""
  base = str(tmp_path / 'serving')
  model = _model(tmp_path, 'model')
  os.makedirs(os.path.join(base, '1000'))
  assert atomic_pusher.pushed_source(os.path.join(base, '1000')) is None
  _, version, _ = _pushed(_push(model, base))
  assert int(version) > 1000


def test_a_local_push_is_on_disk_before_its_rename_and_the_rename_after_it(tmp_path, monkeypatch):
  """Every file and directory of the staged copy is fsynced before the rename; the base directory after it."""
  base = str(tmp_path / 'serving')
  model = _model(tmp_path, 'model')
  synced, events = [], []
  real_fsync, real_rename = os.fsync, fileio.rename

  def recording_fsync(fd):
    synced.append(os.readlink(f'/proc/self/fd/{fd}'))
    real_fsync(fd)

  def recording_rename(source, destination, overwrite=False):
    events.append(('rename', len(synced)))
    real_rename(source, destination, overwrite)
  monkeypatch.setattr(atomic_pusher.os, 'fsync', recording_fsync)
  monkeypatch.setattr(atomic_pusher.fileio, 'rename', recording_rename)
  version, path = atomic_pusher.copy_version(_source(model), base, {'warm_start': os.path.join(model.uri,
                                                                                              'warm_start')})
  [(_, before_rename)] = events
  staging = os.path.join(base, synced[0][len(base) + 1:].split('/')[0])
  assert os.path.basename(staging).startswith('.staging-')
  staged = {os.path.relpath(p, staging) if p != staging else '' for p in synced[:before_rename]}
  on_disk = {os.path.relpath(os.path.join(d, n), path) for d, dirs, files in os.walk(path) for n in dirs + files}
  assert staged == on_disk | {''}  # every file and directory, and the staging directory itself
  assert synced[before_rename:] == [base]



def test_a_filesystem_that_cannot_fsync_directories_still_pushes_once(tmp_path, monkeypatch):
  """Some mounts (FUSE, SMB) refuse fsync on a directory: the push still happens, is reported as it happened,
  and leaves one version; a file that cannot be synced still fails the push."""
  base = str(tmp_path / 'serving')
  model = _model(tmp_path, 'model')
  real_fsync = os.fsync

  def fsync_files_only(fd):
    if stat.S_ISDIR(os.fstat(fd).st_mode):
      raise OSError(errno.EINVAL, 'Invalid argument')
    real_fsync(fd)
  monkeypatch.setattr(atomic_pusher.os, 'fsync', fsync_files_only)
  version, path = atomic_pusher.copy_version(_source(model), base)
  assert os.listdir(base) == [version] and os.path.isfile(os.path.join(path, 'saved_model.pb'))

  def fsync_fails(fd):
    raise OSError(errno.EIO, 'Input/output error')
  monkeypatch.setattr(atomic_pusher.os, 'fsync', fsync_fails)
  with pytest.raises(OSError, match='Input/output error'):
    atomic_pusher.copy_version(_source(model), base)
  assert os.listdir(base) == [version]  # no second version, no staging left

# Recovery at the start of a run

class KilledRunStore:
  """ML Metadata as TFX's launcher leaves a run killed during a node: the node's execution RUNNING in the pipeline,
  pipeline-run and node contexts, its output directories created under the pipeline root."""

  def __init__(self, root: str, task: str = 'forecast'):
    self.root, self.task = root, task
    self.pipeline_root = os.path.join(root, 'pipelines', task)
    self.store = run_record.open_store(os.path.join(root, 'metadata.sqlite'))
    self.execution_type = self.store.put_execution_type(metadata_store_pb2.ExecutionType(name='tfx.Trainer'))
    self.model_type = self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name='Model'))
    self.context_types = {name: self.store.put_context_type(metadata_store_pb2.ContextType(name=name))
                          for name in ('pipeline', 'pipeline_run', 'node', 'run')}
    self.pipeline = self._context('pipeline', f'tfx-lstm-{task}')

  def _context(self, kind: str, name: str) -> metadata_store_pb2.Context:
    """The context of that type and name, made on first use."""
    context = self.store.get_context_by_type_and_name(kind, name)
    if context is None:
      self.store.put_contexts([metadata_store_pb2.Context(type_id=self.context_types[kind], name=name)])
      context = self.store.get_context_by_type_and_name(kind, name)
    return context

  def execution(self, run_id: str, node: str, state: int, run_kind: str = 'pipeline_run', outputs=()) -> int:
    """An execution of `node` in run `run_id` with output artifacts [(uri, state)] and their directories."""
    contexts = [self.pipeline, self._context(run_kind, run_id), self._context('node', f'tfx-lstm-{self.task}.{node}')]
    artifacts = []
    for uri, artifact_state in outputs:
      os.makedirs(uri, exist_ok=True)
      event = Event(type=Event.OUTPUT)
      event.path.steps.add().key = 'model'
      artifacts.append((Artifact(type_id=self.model_type, uri=uri, state=artifact_state), event))
    execution_id, _, _ = self.store.put_execution(
        Execution(type_id=self.execution_type, last_known_state=state), artifacts, contexts)
    for key in ('model', 'model_run'):
      os.makedirs(os.path.join(self.pipeline_root, node, key, str(execution_id)), exist_ok=True)
    os.makedirs(os.path.join(self.pipeline_root, node, '.system', 'executor_execution', str(execution_id), '.temp'))
    return execution_id

  def state(self, execution_id: int):
    [execution] = self.store.get_executions_by_id([execution_id])
    message = execution.custom_properties.get(run_record.FAILURE_PROPERTY)
    return Execution.State.Name(execution.last_known_state), message.string_value if message else ''

  def artifact_states(self, execution_id: int):
    ids = [e.artifact_id for e in self.store.get_events_by_execution_ids([execution_id])]
    return [Artifact.State.Name(a.state) for a in self.store.get_artifacts_by_id(ids)]

  def left_on_disk(self, node: str, execution_id: int):
    node_dir = os.path.join(self.pipeline_root, node)
    return sorted(os.path.relpath(os.path.join(d, n), node_dir) for d, dirs, _ in os.walk(node_dir) for n in dirs
                  if n == str(execution_id))


def test_recovery_marks_what_a_killed_run_left_abandoned_and_removes_its_partial_outputs(tmp_path):
  root = str(tmp_path)
  task = KilledRunStore(root)
  done = task.execution('forecast-1', 'Transform', Execution.COMPLETE)
  outside = tmp_path / 'elsewhere'  # a pending artifact's uri outside the pipeline root is never deleted
  killed = task.execution('forecast-1', 'Trainer', Execution.RUNNING, outputs=[
      (os.path.join(task.pipeline_root, 'Trainer', 'model', 'pending'), Artifact.PENDING),
      (str(outside), Artifact.PENDING)])
  airflow = task.execution('forecast.airflow-1', 'Evaluator', Execution.RUNNING, run_kind='run')
  serving = tmp_path / 'serving' / 'forecast'
  for name in ('1000', '.staging-1001-abc/variables', '.removing-999-def'):
    (serving / name).mkdir(parents=True)
  (serving / 'notes.txt').write_text('not ours')

  lines = recovery.recover(root, 'forecast', 'forecast-2')
  assert lines == ['recovered from run forecast-1 (killed during Trainer): marked 1 execution abandoned, removed 1 '
                   'unfinished push, removed 1 half-deleted old version']
  assert task.state(killed) == ('FAILED', "abandoned: the run's process ended while Trainer ran (killed or "
                                          'crashed); found by run forecast-2')
  assert task.artifact_states(killed) == ['ABANDONED', 'ABANDONED']
  assert task.left_on_disk('Trainer', killed) == [] and outside.is_dir()
  assert not os.path.exists(os.path.join(task.pipeline_root, 'Trainer', 'model', 'pending'))
  assert task.state(done) == ('COMPLETE', '') and task.left_on_disk('Transform', done) != []
  assert task.state(airflow) == ('RUNNING', '')  # Airflow's runs take no run lock: not ours to judge
  assert sorted(os.listdir(serving)) == ['1000', 'notes.txt']

  # The run's summary and report read it like any failure.
  record = run_record.read_run(os.path.join(root, 'metadata.sqlite'), 'forecast-1')
  assert record.execution_states['Trainer'] == ['FAILED'] and record.failure('Trainer').startswith('abandoned: ')
  assert recovery.recover(root, 'forecast', 'forecast-3') == []  # done once


def test_recovery_with_nothing_to_recover(tmp_path):
  assert recovery.recover(str(tmp_path), 'forecast', 'forecast-1') == []  # no metadata store yet: none is made
  assert not os.path.exists(tmp_path / 'metadata.sqlite')
  serving = tmp_path / 'serving' / 'sentiment'
  (serving / '.staging-5-abc').mkdir(parents=True)  # a rollback killed mid-copy: no execution explains it
  assert recovery.recover(str(tmp_path), 'sentiment', 'sentiment-1') == [
      f'removed 1 unfinished push left in {serving}']
  assert os.listdir(serving) == []


def test_recovery_leaves_other_tasks_alone(tmp_path):
  task = KilledRunStore(str(tmp_path), task='translate')
  killed = task.execution('translate-1', 'Trainer', Execution.RUNNING)
  assert recovery.recover(str(tmp_path), 'forecast', 'forecast-1') == []
  assert task.state(killed) == ('RUNNING', '')
