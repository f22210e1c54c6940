"""Tier 1: push retention, the serving history and rollback, against a real ML Metadata SQLite store.

The store is written with ml_metadata the way TFX leaves it after runs of one task: pipeline, pipeline-run and node
contexts, Trainer -> Evaluator -> Pusher executions with TFX's event paths, the Evaluator's TFMA metrics on disk
(for the run's headline) and tiny version directories holding a marker file.
"""
import json
import os
from typing import Dict, List, Optional, Tuple

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tfx.orchestration import metadata
from tfx.orchestration.portable.input_resolution import channel_resolver
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts

from components import atomic_pusher
from records import run_record
from records import serving_history
from records.serving_history import RollbackError

TASK = 'sentiment'
PIPELINE = f'tfx-lstm-{TASK}'
MARKER = 'answer.txt'

Artifact, Event, Execution = metadata_store_pb2.Artifact, metadata_store_pb2.Event, metadata_store_pb2.Execution


def _event(kind: int, key: str) -> Event:
  event = Event(type=kind)
  event.path.steps.add().key = key
  event.path.steps.add().index = 0
  return event


def _artifact(type_id: int, uri: str, **properties) -> Artifact:
  artifact = Artifact(type_id=type_id, uri=uri, state=Artifact.LIVE)
  for name, value in properties.items():
    field = 'int_value' if isinstance(value, int) else 'string_value'
    setattr(artifact.custom_properties[name], field, value)
  return artifact


def _write_metrics(uri: str, auc: float) -> None:
  """An Evaluator output TFMA reads back: the overall slice's metrics (no eval config needed)."""
  os.makedirs(uri, exist_ok=True)
  metrics = metrics_for_slice_pb2.MetricsForSlice()
  value = metrics.metric_keys_and_values.add()
  value.key.name = 'auc'
  value.value.double_value.value = auc
  with tf.io.TFRecordWriter(os.path.join(uri, 'metrics-00000-of-00001.tfrecord')) as writer:
    writer.write(metrics.SerializeToString())


class TaskStore:
  """A task's ML Metadata store and serving root as runs of its TFX pipeline leave them."""

  def __init__(self, root: str):
    self.root, self.path = root, os.path.join(root, 'metadata.sqlite')
    self.serving = os.path.join(root, 'serving', TASK)
    self.store = run_record.open_store(self.path)
    put_context_type = lambda name: self.store.put_context_type(metadata_store_pb2.ContextType(name=name))
    self.context_types = {name: put_context_type(name) for name in ('pipeline', 'pipeline_run', 'node')}
    self.artifact_types = {name: self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))
                           for name in ('Model', 'ModelEvaluation', 'ModelBlessing', 'PushedModel')}
    self.execution_types = {node: self.store.put_execution_type(metadata_store_pb2.ExecutionType(name=name))
                            for node, name in (('Trainer', 'tfx.components.trainer.component.Trainer'),
                                               ('Evaluator', 'tfx.components.evaluator.component.Evaluator'),
                                               ('Pusher', 'tfx.components.pusher.component.Pusher'))}
    self.pipeline = self._context('pipeline', PIPELINE)
    self.pushed_model_ids: Dict[str, int] = {}  # version -> PushedModel id
    self.model_ids: Dict[str, int] = {}  # run id -> Model id

  def _context(self, kind: str, name: str) -> metadata_store_pb2.Context:
    existing = self.store.get_context_by_type_and_name(kind, name)
    if existing is not None:
      return existing
    [context_id] = self.store.put_contexts([metadata_store_pb2.Context(type_id=self.context_types[kind], name=name)])
    return self.store.get_contexts_by_id([context_id])[0]

  def _execute(self, run_id: str, node: str, artifacts_and_events, state=Execution.COMPLETE) -> List[int]:
    contexts = [self.pipeline, self._context('pipeline_run', run_id), self._context('node', f'{PIPELINE}.{node}')]
    execution = Execution(type_id=self.execution_types[node], last_known_state=state)
    return self.store.put_execution(execution, artifacts_and_events, contexts)[1]

  def push(self, run_id: str, version: str, auc: float) -> None:
    """One run: Trainer writes a model, Evaluator measures and blesses it, Pusher pushes it as `version`."""
    model_uri = os.path.join(self.root, 'pipelines', 'Trainer', 'model', run_id)
    os.makedirs(os.path.join(model_uri, 'Format-Serving'))
    [model_id] = self._execute(run_id, 'Trainer', [
        (_artifact(self.artifact_types['Model'], model_uri), _event(Event.OUTPUT, 'model'))])
    [model] = self.store.get_artifacts_by_id([model_id])
    evaluation_uri = os.path.join(self.root, 'pipelines', 'Evaluator', 'evaluation', run_id)
    _write_metrics(evaluation_uri, auc)
    blessing = _artifact(self.artifact_types['ModelBlessing'], evaluation_uri + '-blessing', blessed=1,
                         current_model=model_uri, current_model_id=model_id)
    _, _, blessing_id = self._execute(run_id, 'Evaluator', [
        (model, _event(Event.INPUT, 'model')),
        (_artifact(self.artifact_types['ModelEvaluation'], evaluation_uri), _event(Event.OUTPUT, 'evaluation')),
        (blessing, _event(Event.OUTPUT, 'blessing'))])
    [blessing] = self.store.get_artifacts_by_id([blessing_id])
    destination = os.path.join(self.serving, version)
    os.makedirs(destination)
    with open(os.path.join(destination, MARKER), 'w') as f:
      f.write(f'model of {run_id}')
    pushed = _artifact(self.artifact_types['PushedModel'], os.path.join(self.root, 'pipelines', 'Pusher', run_id),
                       pushed=1, pushed_destination=destination, pushed_version=version)
    *_, pushed_id = self._execute(run_id, 'Pusher', [
        (model, _event(Event.INPUT, 'model')), (blessing, _event(Event.INPUT, 'model_blessing')),
        (pushed, _event(Event.OUTPUT, 'pushed_model'))])
    self.pushed_model_ids[version], self.model_ids[run_id] = pushed_id, model_id

  def cached_push(self, run_id: str, version: str) -> None:
    """A later run whose Pusher was served from the cache: TFX repeats the earlier run's output in this run."""
    [pushed] = self.store.get_artifacts_by_id([self.pushed_model_ids[version]])
    self._execute(run_id, 'Pusher', [(pushed, _event(Event.OUTPUT, 'pushed_model'))], state=Execution.CACHED)

  def not_pushed(self, run_id: str) -> None:
    """A run whose model was not blessed: the Pusher's output says pushed=0."""
    pushed = _artifact(self.artifact_types['PushedModel'], os.path.join(self.root, 'pipelines', 'Pusher', run_id),
                       pushed=0)
    self._execute(run_id, 'Pusher', [(pushed, _event(Event.OUTPUT, 'pushed_model'))])

  def history(self) -> List[serving_history.ServedVersion]:
    return serving_history.serving_history(self.path, TASK, self.serving)

  def rollback(self, to_version: Optional[str] = None, keep_versions: int = 5) -> serving_history.ServedVersion:
    return serving_history.rollback(self.path, TASK, self.serving, to_version, keep_versions)

  def snapshot(self) -> Tuple[object, ...]:
    """Everything a refused rollback must leave alone: the serving tree and the store's records."""
    tree = sorted((os.path.relpath(d, self.root), sorted(files)) for d, _, files in os.walk(self.root)
                  if not d.startswith(os.path.join(self.root, 'pipelines')))
    executions = self.store.get_executions()
    return (tree, len(self.store.get_artifacts()), len(executions),
            len(self.store.get_events_by_execution_ids([e.id for e in executions])),
            sorted(t.name for t in self.store.get_execution_types()))

  def marker(self, version: str) -> str:
    with open(os.path.join(self.serving, version, MARKER)) as f:
      return f.read()


@pytest.fixture
def three_pushes(tmp_path) -> TaskStore:
  """Runs 1, 2 and 3 pushed versions 1000, 2000 and 3000; run 4 was cached up to the Pusher; run 5 not blessed."""
  task = TaskStore(str(tmp_path))
  for n, auc in ((1, 0.81), (2, 0.83), (3, 0.85)):
    task.push(f'{TASK}-run{n}', f'{n}000', auc)
  task.cached_push(f'{TASK}-run4', '3000')
  task.not_pushed(f'{TASK}-run5')
  return task


def _versions(base: str) -> List[str]:
  return atomic_pusher.version_directories(base)


# Retention

def test_prune_keeps_the_newest_and_the_protected_and_ignores_other_entries(tmp_path):
  base = str(tmp_path)
  for name in ('1', '2', '3', '4', '5', '6', '.staging-7-abc', 'latest'):
    os.makedirs(os.path.join(base, name))
  with open(os.path.join(base, '10'), 'w') as f:  # a numeric file is not a version either
    f.write('')
  assert atomic_pusher.prune_versions(base, 3, protect=['1']) == [os.path.join(base, v) for v in ('2', '3', '4')]
  assert _versions(base) == ['1', '5', '6']
  assert sorted(os.listdir(base)) == ['.staging-7-abc', '1', '10', '5', '6', 'latest']
  assert atomic_pusher.prune_versions(base, 3) == []
  # The protected ones count towards `keep`, but the newest (served) version is never removed for them.
  assert atomic_pusher.prune_versions(base, 1, protect=[os.path.join(base, '1')]) == [os.path.join(base, '5')]
  assert _versions(base) == ['1', '6']
  with pytest.raises(ValueError, match='keep must be >= 1'):
    atomic_pusher.prune_versions(base, 0)


def test_keep_versions_comes_from_the_custom_config():
  assert atomic_pusher.keep_versions(None) == 5
  assert atomic_pusher.keep_versions('{"code": "abc"}') == 5
  assert atomic_pusher.keep_versions('{"code": "abc", "keep_versions": 2}') == 2
  assert atomic_pusher.keep_versions({'keep_versions': 1}) == 1
  for bad in (0, -1, True, '3', 2.5):
    with pytest.raises(ValueError, match='keep_versions must be an integer >= 1'):
      atomic_pusher.keep_versions({'keep_versions': bad})


def test_copy_version_is_newer_than_every_existing_version(tmp_path):
  source, base = tmp_path / 'model', str(tmp_path / 'serving')
  (source / 'variables').mkdir(parents=True)
  (source / MARKER).write_text('42')
  os.makedirs(os.path.join(base, '99999999999'))  # pushed by a clock far ahead of this one
  version, path = atomic_pusher.copy_version(str(source), base)
  assert (version, path) == ('100000000000', os.path.join(base, '100000000000'))
  assert open(os.path.join(path, MARKER)).read() == '42' and os.path.isdir(os.path.join(path, 'variables'))
  assert sorted(os.listdir(base)) == ['100000000000', '99999999999']  # no staging directory left behind


def test_the_pusher_prunes_old_versions_after_a_push(tmp_path):
  base = str(tmp_path / 'serving')
  for version in ('1', '2', '3', '.staging-4-x'):
    os.makedirs(os.path.join(base, version))
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / 'model')
  os.makedirs(os.path.join(model.uri, 'Format-Serving'))
  (tmp_path / 'model' / 'Format-Serving' / MARKER).write_text('pushed')
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property('blessed', 1)
  pushed = standard_artifacts.PushedModel()
  exec_properties = {'push_destination': json.dumps({'filesystem': {'base_directory': base}}),
                     'custom_config': json.dumps({'code': 'abc', 'keep_versions': 2})}
  atomic_pusher.AtomicPushExecutor().Do({'model': [model], 'model_blessing': [blessing]},
                                        {'pushed_model': [pushed]}, exec_properties)
  version = pushed.get_string_custom_property('pushed_version')
  assert pushed.get_int_custom_property('pushed') == 1
  assert pushed.get_string_custom_property('pushed_destination') == os.path.join(base, version)
  assert _versions(base) == ['3', version]
  assert not (tmp_path / 'serving' / '.staging-4-x').exists()  # a killed push's leftover, removed before staging
  assert (tmp_path / 'serving' / version / MARKER).read_text() == 'pushed'


# History

def test_history_lists_each_push_newest_first_with_its_run_and_headline(three_pushes):
  history = three_pushes.history()
  assert [(v.version, v.run_id, v.headline, v.served, v.on_disk, v.rollback_of) for v in history] == [
      ('3000', f'{TASK}-run3', 'auc 0.85', True, True, ''),  # run 4's cached Pusher is not a push of its own
      ('2000', f'{TASK}-run2', 'auc 0.83', False, True, ''),
      ('1000', f'{TASK}-run1', 'auc 0.81', False, True, '')]
  assert [v.model_id for v in history] == [three_pushes.model_ids[f'{TASK}-run{n}'] for n in (3, 2, 1)]
  assert history[0].path == os.path.join(three_pushes.serving, '3000')
  assert history[0].pushed_at >= history[1].pushed_at > 0
  os.rename(os.path.join(three_pushes.serving, '1000'), os.path.join(three_pushes.root, 'elsewhere'))
  assert [v.on_disk for v in three_pushes.history()] == [True, True, False]


def test_history_of_a_task_that_never_pushed_is_empty(tmp_path):
  assert serving_history.serving_history(str(tmp_path / 'metadata.sqlite'), TASK, str(tmp_path)) == []
  task = TaskStore(str(tmp_path))
  task.not_pushed(f'{TASK}-run1')
  assert task.history() == []


# Rollback

def _rollback_records(task: TaskStore, execution_id: int) -> Dict[str, object]:
  """The execution's events by (direction, key), with their artifacts and type names."""
  records = {}
  for event in task.store.get_events_by_execution_ids([execution_id]):
    [artifact] = task.store.get_artifacts_by_id([event.artifact_id])
    [kind] = task.store.get_artifact_types_by_id([artifact.type_id])
    direction = 'in' if event.type == Event.INPUT else 'out'
    records[(direction, event.path.steps[0].key)] = (kind.name, artifact)
  return records


def test_default_rollback_serves_the_previous_version_as_a_new_one_and_records_it(three_pushes):
  task = three_pushes
  result = task.rollback()
  assert result.rollback_of == '2000' and result.served and result.on_disk and result.run_id == ''
  assert result.headline == 'auc 0.83' and result.model_id == task.model_ids[f'{TASK}-run2']
  assert int(result.version) > 3000 and result.path == os.path.join(task.serving, result.version)
  assert task.marker(result.version) == f'model of {TASK}-run2'
  assert _versions(task.serving) == ['1000', '2000', '3000', result.version]

  [execution] = task.store.get_executions_by_type(serving_history.ROLLBACK_EXECUTION_TYPE)
  assert execution.last_known_state == Execution.COMPLETE
  assert {k: v.string_value for k, v in execution.custom_properties.items()} == {
      'to_version': '2000', 'from_version': '3000', 'new_version': result.version}
  assert [c.name for c in task.store.get_contexts_by_execution(execution.id)] == [PIPELINE]
  records = _rollback_records(task, execution.id)
  assert sorted(records) == [('in', 'model'), ('in', 'pushed_model'), ('out', 'blessing'), ('out', 'pushed_model')]
  assert records[('in', 'pushed_model')][1].id == task.pushed_model_ids['2000']
  assert records[('in', 'model')][0] == 'Model' and records[('in', 'model')][1].id == result.model_id
  kind, pushed = records[('out', 'pushed_model')]
  assert kind == 'PushedModel' and pushed.uri == result.path and pushed.state == Artifact.LIVE
  assert {k: run_record.artifact_property(pushed, k) for k in (
      'pushed', 'pushed_destination', 'pushed_version', 'rollback_of')} == {
          'pushed': 1, 'pushed_destination': result.path, 'pushed_version': result.version, 'rollback_of': '2000'}
  kind, blessing = records[('out', 'blessing')]
  assert kind == 'ModelBlessing' and blessing.state == Artifact.LIVE
  assert {k: run_record.artifact_property(blessing, k) for k in (
      'blessed', 'current_model', 'current_model_id', 'rollback_of')} == {
          'blessed': 1, 'current_model': records[('in', 'model')][1].uri, 'current_model_id': result.model_id,
          'rollback_of': '2000'}
  assert {c.name for c in task.store.get_contexts_by_artifact(blessing.id)} == {PIPELINE}

  # TFX's own channel resolution (a Resolver's `Channel(type=ModelBlessing)` in this pipeline) now sees the rollback's
  # blessing as the newest one, naming the rolled-back model.
  channel = pipeline_pb2.InputSpec.Channel()
  query = channel.context_queries.add()
  query.type.name, query.name.field_value.string_value = 'pipeline', PIPELINE
  channel.artifact_query.type.name = 'ModelBlessing'
  with metadata.Metadata(metadata.sqlite_metadata_connection_config(task.path)) as handle:
    newest = max(channel_resolver.resolve_single_channel(handle, channel), key=lambda a: a.id)
  assert newest.id == blessing.id and newest.get_int_custom_property('current_model_id') == result.model_id

  history = task.history()
  assert [(v.version, v.run_id, v.rollback_of, v.served, v.headline) for v in history] == [
      (result.version, '', '2000', True, 'auc 0.83'), ('3000', f'{TASK}-run3', '', False, 'auc 0.85'),
      ('2000', f'{TASK}-run2', '', False, 'auc 0.83'), ('1000', f'{TASK}-run1', '', False, 'auc 0.81')]
  assert history[0] == result

  # Served is a copy of 2000, so the next step back is the version pushed before 2000, and then there is none.
  second = task.rollback()
  assert second.rollback_of == '1000' and task.marker(second.version) == f'model of {TASK}-run1'
  assert second.headline == 'auc 0.81' and int(second.version) > int(result.version)
  before = task.snapshot()
  with pytest.raises(RollbackError, match='no version was pushed before 1000 .*nothing earlier to roll back to'):
    task.rollback()
  assert task.snapshot() == before


def test_rollback_to_a_named_version_and_back_to_a_rollback_copy(three_pushes):
  task = three_pushes
  first = task.rollback('1000')
  assert first.rollback_of == '1000' and task.marker(first.version) == f'model of {TASK}-run1'
  second = task.rollback('3000')  # forward again, to the run's push
  assert second.rollback_of == '3000' and task.marker(second.version) == f'model of {TASK}-run3'
  third = task.rollback(first.version)  # a rollback copy is a version like any other; it holds run 1's model
  assert third.rollback_of == first.version and third.model_id == task.model_ids[f'{TASK}-run1']
  assert third.headline == 'auc 0.81' and task.marker(third.version) == f'model of {TASK}-run1'
  assert [v.served for v in task.history()] == [True] + [False] * 5
  # Default: back past run 1's push (the served copy's original), where nothing was pushed before.
  with pytest.raises(RollbackError, match='no version was pushed before 1000'):
    task.rollback()


def test_retention_after_a_rollback_removes_old_versions_but_never_the_new_one(three_pushes):
  task = three_pushes
  result = task.rollback('1000', keep_versions=2)
  assert _versions(task.serving) == ['3000', result.version]
  assert task.marker(result.version) == f'model of {TASK}-run1'  # its source is gone, the copy is whole
  assert [(v.version, v.on_disk, v.served) for v in task.history()] == [
      (result.version, True, True), ('3000', True, False), ('2000', False, False), ('1000', False, False)]
  again = task.rollback('3000', keep_versions=1)  # removes its own source and the served copy, never itself
  assert _versions(task.serving) == [again.version] and task.marker(again.version) == f'model of {TASK}-run3'
  assert [(v.version, v.on_disk, v.served) for v in task.history()][:3] == [
      (again.version, True, True), (result.version, False, False), ('3000', False, False)]


def test_refused_rollbacks_change_nothing(three_pushes):
  task = three_pushes
  before = task.snapshot()
  with pytest.raises(RollbackError, match=r"never pushed a version '42'; known versions, newest first: "
                     r'3000, 2000, 1000'):
    task.rollback('42')
  with pytest.raises(RollbackError, match='version 3000 is already the served model'):
    task.rollback('3000')
  with pytest.raises(RollbackError, match='keep_versions must be an integer >= 1'):
    task.rollback('1000', keep_versions=0)
  assert task.snapshot() == before

  os.rename(os.path.join(task.serving, '1000'), os.path.join(task.root, 'pruned-by-hand'))  # as retention would
  before = task.snapshot()
  with pytest.raises(RollbackError, match=r'version 1000 cannot be served again: its directory .*1000 was removed '
                     r'by retention .* Versions still on disk, newest first: 3000, 2000'):
    task.rollback('1000')
  with pytest.raises(RollbackError, match=r'known versions, newest first: 3000, 2000, 1000 \(removed\)'):
    task.rollback('999')
  assert task.snapshot() == before

  copy = task.rollback('2000')
  before = task.snapshot()
  with pytest.raises(RollbackError, match=rf'version 2000 is already the served model \(served as {copy.version}'):
    task.rollback('2000')
  assert task.snapshot() == before


def test_rollback_with_nothing_or_nothing_earlier_pushed_is_refused(tmp_path):
  task = TaskStore(str(tmp_path))
  task.not_pushed(f'{TASK}-run1')
  before = task.snapshot()
  with pytest.raises(RollbackError, match=f'{TASK} has no pushed versions in .*nothing to roll back to'):
    task.rollback()
  assert task.snapshot() == before
  task.push(f'{TASK}-run2', '2000', 0.8)
  before = task.snapshot()
  with pytest.raises(RollbackError, match='no version was pushed before 2000: there is nothing earlier'):
    task.rollback()
  assert task.snapshot() == before
