"""Recovery at the start of a local run: what an earlier run of the task left when its process died mid-way.

TFX's LocalDagRunner records an execution as RUNNING when it starts and as COMPLETE or FAILED when it ends. A
process that dies in between (SIGKILL, the OOM killer, a crash, a reboot) never records the end: ML Metadata shows
the execution running for ever, its output directories stay half-written under the pipeline root, and a push
killed mid-copy leaves a `.staging-*` directory in the serving root (a killed prune a `.removing-*` one).

`recover` runs under the task's run lock (orchestration/run_lock.py), which the kernel released when the dead
process went: no other run of the task is alive on this root, so every execution of the task's pipeline still NEW or
RUNNING was left by a dead process. It is marked FAILED with an "abandoned" message (the summary and the report
show it like any failure), its unpublished outputs are marked ABANDONED and their directories deleted, and the
serving root's leftovers are removed. A push that was renamed into place but never recorded is left alone: it is
a whole version, and the re-run's Pusher records it instead of pushing the model again
(components/atomic_pusher.py).

Airflow runs of the pipeline take no run lock, so executions of Airflow's runs (TFX's pre-IR 'run' contexts) are
never touched here. Only ml_metadata and the os module are used: no TensorFlow, so the console lines come before
the run's log starts, and a run with nothing to recover pays a few milliseconds.
"""
import collections
import dataclasses
import os
import shutil
from typing import Dict, List

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from core import layout as root_layout
from core.names import FAILURE_PROPERTY
from core.names import NODE_CONTEXT
from core.names import PIPELINE_CONTEXT
from core.names import RUN_CONTEXT
from core.names import pipeline_name

ABANDONED = "abandoned: the run's process ended while {node} ran (killed or crashed); found by run {run_id}"
_SYSTEM_DIR = '.system'  # TFX's per-node bookkeeping beside the output keys (tfx.orchestration.portable.outputs_utils)
_STATEFUL_INDEX = '__stateful_working_dir_index__'  # the execution property TFX names its stateful directory by

_Execution, _Artifact, _Event = metadata_store_pb2.Execution, metadata_store_pb2.Artifact, metadata_store_pb2.Event


@dataclasses.dataclass
class _KilledRun:
  nodes: List[str] = dataclasses.field(default_factory=list)
  executions: int = 0


def _store(metadata_path: str) -> metadata_store.MetadataStore:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
  return metadata_store.MetadataStore(config)


def _inside(path: str, top: str) -> bool:
  path, top = os.path.realpath(path), os.path.realpath(top)
  return path != top and path.startswith(top + os.sep)


def _remove_tree(path: str, top: str, problems: List[str]) -> bool:
  """Deletes `path` if it is a directory strictly under `top` (never anything else); a failure is noted, not raised:
  the run can go on without it."""
  if not _inside(path, top) or not os.path.isdir(path) or os.path.islink(path):
    return False
  try:
    shutil.rmtree(path)
  except OSError as e:
    problems.append(f'could not remove {path}: {e.strerror or e}')
    return False
  return True


def _output_directories(pipeline_root: str, node: str, execution: _Execution) -> List[str]:
  """Where TFX's launcher put the execution's outputs: `<node>/<key>/<id>/` for each output key, and its scratch and
  executor-output directory `<node>/.system/executor_execution/<id>/` (and its stateful working directory)."""
  node_dir = os.path.join(pipeline_root, node)
  if not os.path.isdir(node_dir):
    return []
  found = [os.path.join(node_dir, key, str(execution.id)) for key in sorted(os.listdir(node_dir))
           if key != _SYSTEM_DIR]
  found.append(os.path.join(node_dir, _SYSTEM_DIR, 'executor_execution', str(execution.id)))
  index = execution.custom_properties.get(_STATEFUL_INDEX)
  if index is not None and index.string_value:
    found.append(os.path.join(node_dir, _SYSTEM_DIR, 'stateful_working_dir', index.string_value))
  return [path for path in found if os.path.isdir(path)]


def _abandon_outputs(store, execution: _Execution, pipeline_root: str, problems: List[str]) -> None:
  """Marks the execution's unpublished output artifacts ABANDONED and deletes their directories."""
  output_ids = [e.artifact_id for e in store.get_events_by_execution_ids([execution.id])
                if e.type in (_Event.OUTPUT, _Event.PENDING_OUTPUT)]
  pending = [a for a in store.get_artifacts_by_id(output_ids) if a.state == _Artifact.PENDING]
  for artifact in pending:
    artifact.state = _Artifact.ABANDONED
    _remove_tree(artifact.uri, pipeline_root, problems)
  if pending:
    store.put_artifacts(pending)


def _plural(count: int, noun: str) -> str:
  return f'{count} {noun}' + ('' if count == 1 else 's')


def recover(root: str, task_name: str, run_id: str) -> List[str]:
  """Cleans up after every earlier run of the task on `root` whose process died; returns one console line per
  killed run (and one for serving leftovers no killed run explains), nothing when there was nothing to do.

  Call only while holding the task's run lock: anything still running is then dead.

  Args:
    root: the run root (`--root`): metadata.sqlite, pipelines/<task>/ and serving/<task>/ under it.
    task_name: the task whose pipeline (`tfx-lstm-<task>`) is recovered.
    run_id: the run about to start, named in the abandoned executions' message.
  """
  layout = root_layout.RootLayout.at(root)
  metadata_path, pipeline_root = layout.metadata_path, layout.pipeline_root(task_name)
  problems: List[str] = []
  killed: Dict[str, _KilledRun] = collections.defaultdict(_KilledRun)
  if os.path.exists(metadata_path):
    store = _store(metadata_path)
    pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name(task_name))
    if pipeline is not None:
      unfinished = store.get_executions_by_context(pipeline.id, list_options=metadata_store.ListOptions(
          filter_query='last_known_state = NEW OR last_known_state = RUNNING'))
      context_types = {t.id: t.name for t in store.get_context_types()}
      for execution in sorted(unfinished, key=lambda e: e.id):
        contexts = collections.defaultdict(list)
        for context in store.get_contexts_by_execution(execution.id):
          contexts[context_types[context.type_id]].append(context.name)
        if not contexts[RUN_CONTEXT]:  # not a LocalDagRunner run (Airflow's): not ours to judge
          continue
        killed_run = contexts[RUN_CONTEXT][0]
        node = contexts[NODE_CONTEXT][0].split('.', 1)[-1] if contexts[NODE_CONTEXT] else f'execution {execution.id}'
        # Files first, the record last: a recovery that is itself killed half-way is simply done again.
        for path in _output_directories(pipeline_root, node, execution):
          _remove_tree(path, pipeline_root, problems)
        _abandon_outputs(store, execution, pipeline_root, problems)
        execution.last_known_state = _Execution.FAILED
        execution.custom_properties[FAILURE_PROPERTY].string_value = ABANDONED.format(node=node, run_id=run_id)
        store.put_executions([execution])
        killed[killed_run].nodes.append(node)
        killed[killed_run].executions += 1
  serving_root = layout.serving_root(task_name)
  leftovers = root_layout.remove_leftovers(serving_root)
  problems += leftovers.problems
  removed = [_plural(count, what) for count, what in (
      (leftovers.count(root_layout.STAGING_PREFIX), 'unfinished push'),
      (leftovers.count(root_layout.REMOVING_PREFIX), 'half-deleted old version')) if count]
  lines = []
  for position, (killed_run, found) in enumerate(killed.items()):
    done = [f"marked {_plural(found.executions, 'execution')} abandoned"]
    if position == len(killed) - 1:  # the serving leftovers, told once, with the latest killed run
      done += [f'removed {what}' for what in removed]
    lines.append(f"recovered from run {killed_run} (killed during {', '.join(found.nodes)}): {', '.join(done)}")
  if removed and not killed:
    lines.append(f"removed {' and '.join(removed)} left in {serving_root}")
  return lines + [f'recovery: {problem}' for problem in problems]
