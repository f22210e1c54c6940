"""Which model versions a task has pushed, which one is served, and rolling back to an earlier one.

The history is read from ML Metadata, not from the serving directory: every `PushedModel` of the task's pipeline
with pushed == 1, whether a run's Pusher or a rollback wrote it, beside what is still on disk. A rollback copies an
earlier version again as a new, newest version (so a model server that serves the newest version picks it up)
and records that in ML Metadata as one `tfx-lstm.Rollback` execution, with a new `PushedModel` and a new
`ModelBlessing`, so lineage and "the newest blessing" both see the rolled-back model as the latest push.
"""
import collections
import dataclasses
import os
from typing import Dict, List, Optional, Sequence

import tfx
from absl import logging
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.io import fileio

from components import atomic_pusher
from core.layout import version_path
from core.names import PIPELINE_CONTEXT
from core.names import ROLLBACK_EXECUTION_TYPE
from core.names import ROLLBACK_OF_PROPERTY as ROLLBACK_OF
from core.names import RUN_CONTEXTS
from core.names import pipeline_name
from records import report
from records import run_record
from records.run_record import artifact_property

PUSHED_MODEL_TYPE, MODEL_BLESSING_TYPE = 'PushedModel', 'ModelBlessing'
# Event path keys: the Pusher's own input/output keys, so lineage readers treat a rollback like a push.
MODEL_KEY, PUSHED_MODEL_KEY, BLESSING_KEY = 'model', 'pushed_model', 'blessing'

_Artifact = metadata_store_pb2.Artifact
_Event = metadata_store_pb2.Event


class RollbackError(ValueError):
  """A rollback that cannot be done; nothing was changed on disk or in ML Metadata."""


@dataclasses.dataclass
class ServedVersion:
  """One pushed model version of a task."""
  version: str  # the version directory's name (unix seconds)
  path: str  # the version directory
  run_id: str  # the run whose Pusher pushed it; '' for a rollback
  pushed_at: int  # ms since the epoch: when its PushedModel artifact was recorded
  headline: str  # the pushing run's headline metric ('auc 0.8384'); a rollback shows its original's
  on_disk: bool  # False once retention (or anyone) removed the directory
  served: bool  # the newest version directory on disk: what a model server serves
  rollback_of: str  # the version a rollback re-published; '' for a run's push
  model_id: int  # the ML Metadata id of the Model artifact it holds (0 when lineage is missing)


@dataclasses.dataclass
class _Push:
  """A ServedVersion with the ML Metadata records behind it."""
  entry: ServedVersion
  pushed_model: _Artifact
  model: Optional[_Artifact]


def _real(path: str) -> str:
  """A path in one spelling, to compare the recorded destination with the serving root's listing."""
  return path.rstrip('/') if '://' in path else os.path.realpath(path)


def _key(event: _Event) -> str:
  return event.path.steps[0].key if event.path.steps else ''


def _event(kind: int, key: str) -> _Event:
  """An event with TFX's path layout: [key, index 0]."""
  event = _Event(type=kind)
  event.path.steps.add().key = key
  event.path.steps.add().index = 0
  return event


def _version_order(push: _Push):
  version = push.entry.version
  return (int(version) if version.isdigit() else -1, push.pushed_model.id)


def _read_pushes(store: metadata_store.MetadataStore, metadata_path: str, task: str,
                 serving_root: str) -> List[_Push]:
  """Every push of the task (pushed == 1), newest first."""
  pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name(task))
  if pipeline is None:
    return []
  try:
    pushed_type = store.get_artifact_type(PUSHED_MODEL_TYPE)
  except mlmd_errors.NotFoundError:
    return []
  pushed = [a for a in store.get_artifacts_by_context(pipeline.id)
            if a.type_id == pushed_type.id and artifact_property(a, 'pushed') == 1]
  if not pushed:
    return []

  producers = collections.defaultdict(list)  # PushedModel id -> executions with an OUTPUT event to it
  for event in store.get_events_by_artifact_ids([a.id for a in pushed]):
    if event.type == _Event.OUTPUT:
      producers[event.artifact_id].append(event.execution_id)
  executions = {e.id: e for e in store.get_executions_by_id(sorted({i for ids in producers.values() for i in ids}))}
  # A cached Pusher in a later run repeats the OUTPUT event; the push itself is the COMPLETE execution.
  complete = metadata_store_pb2.Execution.COMPLETE
  producer = {artifact_id: min(ids, key=lambda i: (executions[i].last_known_state != complete, i))
              for artifact_id, ids in producers.items()}
  model_of_execution = {}
  for event in store.get_events_by_execution_ids(sorted(set(producer.values()))):
    if event.type == _Event.INPUT and _key(event) == MODEL_KEY:
      model_of_execution[event.execution_id] = event.artifact_id
  models = {m.id: m for m in store.get_artifacts_by_id(sorted(set(model_of_execution.values())))}
  run_type_ids = {t.id for t in store.get_context_types() if t.name in RUN_CONTEXTS}
  run_of_execution = {}
  for execution_id in set(producer.values()):
    runs = [c.name for c in store.get_contexts_by_execution(execution_id) if c.type_id in run_type_ids]
    run_of_execution[execution_id] = runs[0] if runs else ''  # a rollback belongs to no run

  versions_on_disk = atomic_pusher.version_directories(serving_root)
  served_path = _real(version_path(serving_root, versions_on_disk[-1])) if versions_on_disk else None
  pushes = []
  for artifact in pushed:
    destination = artifact_property(artifact, 'pushed_destination') or ''
    version = str(artifact_property(artifact, 'pushed_version') or os.path.basename(destination.rstrip('/')))
    path = destination or version_path(serving_root, version)
    execution_id = producer.get(artifact.id)
    model = models.get(model_of_execution.get(execution_id))
    on_disk = atomic_pusher.is_complete_version(path)
    entry = ServedVersion(
        version=version, path=path, run_id=run_of_execution.get(execution_id, ''),
        pushed_at=artifact.create_time_since_epoch, headline='', on_disk=on_disk,
        served=on_disk and _real(path) == served_path, rollback_of=artifact_property(artifact, ROLLBACK_OF) or '',
        model_id=model.id if model is not None else 0)
    pushes.append(_Push(entry, artifact, model))
  pushes.sort(key=_version_order, reverse=True)

  by_version = _by_version(pushes)
  headlines: Dict[str, str] = {}
  for push in pushes:
    run_id = _original(push, by_version).entry.run_id
    if run_id and run_id not in headlines:
      headlines[run_id] = _headline(metadata_path, run_id)
    push.entry.headline = headlines.get(run_id, '')
  return pushes


def _headline(metadata_path: str, run_id: str) -> str:
  """The same headline `tfx-lstm runs` shows for the run (report.run_row)."""
  record = run_record.read_run(metadata_path, run_id)
  return report.run_row(record).headline if record is not None else ''


def _by_version(pushes: Sequence[_Push]) -> Dict[str, _Push]:
  """Version -> its push; pushes come newest first and the newest of a repeated version wins."""
  by_version = {}
  for push in pushes:
    by_version.setdefault(push.entry.version, push)
  return by_version


def _original(push: _Push, by_version: Dict[str, _Push]) -> _Push:
  """The run's push a (chain of) rollback(s) re-published; a run's push is its own original."""
  seen = {id(push)}
  while push.entry.rollback_of in by_version and id(by_version[push.entry.rollback_of]) not in seen:
    push = by_version[push.entry.rollback_of]
    seen.add(id(push))
  return push


def serving_history(metadata_path: str, task: str, serving_root: str) -> List[ServedVersion]:
  """Every version the task pushed (its runs' pushes and rollbacks), newest first.

  Args:
    metadata_path: the ML Metadata SQLite file (`<root>/metadata.sqlite`).
    task: the task name (pipeline `tfx-lstm-<task>`).
    serving_root: the Pusher's base directory, whose newest version directory is the served one.
  """
  return [push.entry for push in _read_pushes(run_record.open_store(metadata_path), metadata_path, task,
                                              serving_root)]


def _describe(pushes: Sequence[_Push]) -> str:
  return ', '.join(p.entry.version + ('' if p.entry.on_disk else ' (removed)') for p in pushes)


def _default_target(pushes: List[_Push], served: Optional[_Push], by_version: Dict[str, _Push],
                    serving_root: str) -> _Push:
  """The version pushed before the served one's original (a served rollback of v1 goes back past v1)."""
  if served is None:
    on_disk = atomic_pusher.version_directories(serving_root)
    raise RollbackError(
        f'no recorded push is served from {serving_root} (its newest version directory is '
        f"{on_disk[-1] if on_disk else 'missing: the directory holds no versions'}), so there is no "
        f'"previous" version; name one to roll back to. Known versions, newest first: {_describe(pushes)}')
  original = _original(served, by_version)
  position = next(i for i, push in enumerate(pushes) if push is original)
  # Skip other copies of the served model: rolling back to them would change nothing.
  for push in pushes[position + 1:]:
    if _original(push, by_version) is not original:
      return push
  served_as = '' if original is served else f' (served as {served.entry.version}, a rollback of it)'
  raise RollbackError(f'no version was pushed before {original.entry.version}{served_as}: there is nothing '
                      'earlier to roll back to')


def _artifact_type_id(store: metadata_store.MetadataStore, name: str) -> int:
  """The id of an artifact type TFX registered; registered by name (as TFX would) if it never was."""
  try:
    return store.get_artifact_type(name).id
  except mlmd_errors.NotFoundError:
    return store.put_artifact_type(metadata_store_pb2.ArtifactType(name=name))


def _tfx_custom_properties(artifact: _Artifact) -> None:
  """The custom properties TFX puts on every artifact it publishes."""
  artifact.custom_properties['is_external'].int_value = 0
  artifact.custom_properties['tfx_version'].string_value = tfx.__version__


def rollback(metadata_path: str, task: str, serving_root: str, to_version: Optional[str] = None,
             keep_versions: int = atomic_pusher.DEFAULT_KEEP_VERSIONS) -> ServedVersion:
  """Serves an earlier version again by copying it as a new (newest) version, recorded in ML Metadata.

  Args:
    metadata_path: the ML Metadata SQLite file.
    task: the task name.
    serving_root: the Pusher's base directory.
    to_version: the version to serve again; by default the one pushed before the served one's original.
    keep_versions: after the copy, the oldest version directories beyond this many are removed (never the new one).

  Returns:
    The new version, as `serving_history` will list it.

  Raises:
    RollbackError: nothing pushed, an unknown `to_version`, a target whose directory was removed, a target that is
      already served, or no earlier version; nothing is changed then.
  """
  if isinstance(keep_versions, bool) or not isinstance(keep_versions, int) or keep_versions < 1:
    raise RollbackError(f'keep_versions must be an integer >= 1, got {keep_versions!r}')
  store = run_record.open_store(metadata_path)
  pushes = _read_pushes(store, metadata_path, task, serving_root)
  if not pushes:
    raise RollbackError(f'{task} has no pushed versions in {metadata_path}: there is nothing to roll back to')
  by_version = _by_version(pushes)
  served = next((p for p in pushes if p.entry.served), None)
  if to_version is None:
    target = _default_target(pushes, served, by_version, serving_root)
  else:
    target = by_version.get(str(to_version))
    if target is None:
      raise RollbackError(f'{task} never pushed a version {to_version!r}; known versions, newest first: '
                          f'{_describe(pushes)}')
  if served is not None and _original(target, by_version) is _original(served, by_version):
    same = ('' if target is served else
            f' (served as {served.entry.version}, a copy of the same model as {target.entry.version})')
    raise RollbackError(f'version {target.entry.version} is already the served model{same}')
  if not target.entry.on_disk:
    on_disk = [p for p in pushes if p.entry.on_disk]
    raise RollbackError(
        f'version {target.entry.version} cannot be served again: its directory {target.entry.path} was removed '
        f'by retention (the serving root keeps the newest {keep_versions} versions). Versions still on disk, '
        f"newest first: {_describe(on_disk) or 'none'}")
  if target.model is None:
    raise RollbackError(f'version {target.entry.version} has no Model in its ML Metadata lineage (no INPUT event '
                        f'{MODEL_KEY!r} on the execution that pushed it), so a rollback could not be recorded')

  pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name(task))
  pushed_type_id = _artifact_type_id(store, PUSHED_MODEL_TYPE)
  blessing_type_id = _artifact_type_id(store, MODEL_BLESSING_TYPE)
  execution_type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name=ROLLBACK_EXECUTION_TYPE),
                                               can_add_fields=True)
  on_disk_before = atomic_pusher.version_directories(serving_root)
  from_version = served.entry.version if served is not None else (on_disk_before[-1] if on_disk_before else '')
  source_version, model = target.entry.version, target.model

  new_version, new_path = atomic_pusher.copy_version(target.entry.path, serving_root)
  execution = metadata_store_pb2.Execution(type_id=execution_type_id,
                                           last_known_state=metadata_store_pb2.Execution.COMPLETE)
  for name, value in (('to_version', source_version), ('from_version', from_version), ('new_version', new_version)):
    execution.custom_properties[name].string_value = value
  pushed_model = _Artifact(type_id=pushed_type_id, uri=new_path, state=_Artifact.LIVE)
  pushed_model.custom_properties['pushed'].int_value = 1
  pushed_model.custom_properties['pushed_destination'].string_value = new_path
  pushed_model.custom_properties['pushed_version'].string_value = new_version
  pushed_model.custom_properties[ROLLBACK_OF].string_value = source_version
  # The blessing's uri is the new version itself: no marker files are written into a served model directory.
  blessing = _Artifact(type_id=blessing_type_id, uri=new_path, state=_Artifact.LIVE)
  blessing.custom_properties['blessed'].int_value = 1
  blessing.custom_properties['current_model'].string_value = model.uri
  blessing.custom_properties['current_model_id'].int_value = model.id
  blessing.custom_properties[ROLLBACK_OF].string_value = source_version
  for artifact in (pushed_model, blessing):
    _tfx_custom_properties(artifact)
  try:
    # One call: the execution, both new artifacts, the four events and the pipeline context links land together.
    _, artifact_ids, _ = store.put_execution(
        execution,
        [(target.pushed_model, _event(_Event.INPUT, PUSHED_MODEL_KEY)), (model, _event(_Event.INPUT, MODEL_KEY)),
         (pushed_model, _event(_Event.OUTPUT, PUSHED_MODEL_KEY)), (blessing, _event(_Event.OUTPUT, BLESSING_KEY))],
        [pipeline], force_reuse_context=True)
  except Exception:
    # A copy that ML Metadata does not know about would be served with no record of where it came from.
    fileio.rmtree(new_path)
    raise
  logging.info('Rolled %s back to version %s: served as %s', task, source_version, new_path)
  atomic_pusher.prune_versions(serving_root, keep_versions, protect=[new_version])

  [recorded] = store.get_artifacts_by_id([artifact_ids[2]])
  on_disk_after = atomic_pusher.version_directories(serving_root)
  return ServedVersion(
      version=new_version, path=new_path, run_id='', pushed_at=recorded.create_time_since_epoch,
      headline=target.entry.headline, on_disk=True,
      served=bool(on_disk_after) and on_disk_after[-1] == new_version,
      rollback_of=source_version, model_id=model.id)
