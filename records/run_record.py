"""Reads one pipeline run from ML Metadata by its run id: the executions of that run's pipeline-run context
(never "the newest execution of the pipeline", which another run of the same task may have written since),
their states and outputs."""
import collections
import dataclasses
import json
from typing import Dict, List, Optional, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from core.names import FAILURE_PROPERTY
from core.names import PIPELINE_PREFIX
from core.names import LEGACY_NODE_PROPERTY
from core.names import LEGACY_RUN_CONTEXT
from core.names import NODE_CONTEXT
from core.names import PIPELINE_CONTEXT
from core.names import PLANNED_NODES_PROPERTY
from core.names import RUN_CONTEXT
from core.names import RUN_CONTEXTS


@dataclasses.dataclass
class RunRecord:
  run_id: str
  pipeline_name: str
  started_ms: int  # when the run's context was created (ms since the epoch)
  execution_states: Dict[str, List[str]]  # node id -> states of its executions in this run
  outputs: Dict[str, List[metadata_store_pb2.Artifact]]  # artifact type name -> output artifacts
  properties: Dict[str, Dict[str, object]]  # node id -> execution properties of its last execution
  timings: Dict[str, List[Tuple[int, int]]] = dataclasses.field(default_factory=dict)  # node id -> (start, end) ms
  node_outputs: Dict[str, Dict[str, metadata_store_pb2.Artifact]] = dataclasses.field(
      default_factory=dict)  # node id -> output key -> its (last) artifact
  planned_nodes: List[str] = dataclasses.field(default_factory=list)  # every node of the run, in pipeline order

  @property
  def task(self) -> str:
    """The task whose pipeline ran (`tfx-lstm-<task>`)."""
    return self.pipeline_name.removeprefix(PIPELINE_PREFIX)

  def node_output(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    """The artifact a node wrote under an output key (StatisticsGen's 'statistics', say) in this run."""
    return self.node_outputs.get(node, {}).get(key)

  def output(self, type_name: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.outputs.get(type_name) or []
    return artifacts[-1] if artifacts else None

  @property
  def ended_ms(self) -> int:
    """When the run's last execution was last updated (its start when nothing ran)."""
    return max([end for spans in self.timings.values() for _, end in spans] or [self.started_ms])

  def pushed_version(self) -> str:
    """The version this run's Pusher pushed, or '' (a cached Pusher's artifact is an earlier run's push)."""
    pushed = self.node_output('Pusher', 'pushed_model')
    if self.execution_states.get('Pusher', [''])[-1] != 'COMPLETE' or not artifact_property(pushed, 'pushed'):
      return ''
    return artifact_property(pushed, 'pushed_version') or ''

  def failure(self, node: str) -> str:
    """Why the node's execution failed, as the local runner recorded it (FAILURE_PROPERTY), or ''."""
    return str(self.properties.get(node, {}).get(FAILURE_PROPERTY) or '')

  def nodes_in_state(self, state: str) -> List[str]:
    """Nodes whose every execution in this run ended in `state` (COMPLETE, CACHED, FAILED, ...)."""
    return sorted(node for node, states in self.execution_states.items() if states and set(states) == {state})


def _property(item, name: str):
  """A property or custom property of an MLMD artifact or execution, as a Python value."""
  value = item.custom_properties.get(name) or item.properties.get(name)
  if value is None:
    return None
  return getattr(value, value.WhichOneof('value'))


def artifact_property(artifact: Optional[metadata_store_pb2.Artifact], name: str):
  return None if artifact is None else _property(artifact, name)


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
  return metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))


def _context_type_ids(store) -> Dict[int, str]:
  """Context type id -> name, read once per call instead of once per context."""
  return {t.id: t.name for t in store.get_context_types()}


def read_run(metadata_path: str, run_id: str) -> Optional[RunRecord]:
  """The run with this run id (its pipeline-run context), or None when ML Metadata has no such run."""
  store = open_store(metadata_path)
  run_context = (store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
                 or store.get_context_by_type_and_name(LEGACY_RUN_CONTEXT, run_id))
  if run_context is None:
    return None
  run_executions = sorted(store.get_executions_by_context(run_context.id), key=lambda e: e.id)
  states, timings, properties, pipeline_name = collections.defaultdict(list), collections.defaultdict(list), {}, ''
  context_types = _context_type_ids(store)
  state_names = metadata_store_pb2.Execution.State.Name
  node_of = {}
  for execution in run_executions:
    node = _property(execution, LEGACY_NODE_PROPERTY) or str(execution.id)
    for context in store.get_contexts_by_execution(execution.id):
      kind = context_types[context.type_id]
      if kind == NODE_CONTEXT:
        node = context.name.split('.', 1)[-1]
      elif kind == PIPELINE_CONTEXT:
        pipeline_name = context.name
    node_of[execution.id] = node
    states[node].append(state_names(execution.last_known_state))
    timings[node].append((execution.create_time_since_epoch, execution.last_update_time_since_epoch))
    properties[node] = {name: _property(execution, name) for name in
                        list(execution.properties) + list(execution.custom_properties)}
  events = store.get_events_by_execution_ids([e.id for e in run_executions])
  output_ids = sorted({e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT})
  outputs = collections.defaultdict(list)
  artifacts = store.get_artifacts_by_id(output_ids)
  type_names = {t.id: t.name for t in store.get_artifact_types_by_id(list({a.type_id for a in artifacts}))}
  for artifact in sorted(artifacts, key=lambda a: a.id):
    outputs[type_names[artifact.type_id]].append(artifact)
  by_id, node_outputs = {a.id: a for a in artifacts}, collections.defaultdict(dict)
  for event in sorted(events, key=lambda e: e.artifact_id):
    if event.type == metadata_store_pb2.Event.OUTPUT and event.path.steps:
      node_outputs[node_of[event.execution_id]][event.path.steps[0].key] = by_id[event.artifact_id]
  planned = _property(run_context, PLANNED_NODES_PROPERTY)  # written by orchestration/local_runner.py after the run
  return RunRecord(run_id, pipeline_name, run_context.create_time_since_epoch, dict(states), dict(outputs),
                   properties, dict(timings), dict(node_outputs), json.loads(planned) if planned else [])


def run_ids(metadata_path: str, pipeline_name: str) -> List[str]:
  """Run ids of a pipeline, oldest first (by when each run's context was created)."""
  store = open_store(metadata_path)
  pipeline_context = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)
  if pipeline_context is None:
    return []
  runs, context_types = {}, _context_type_ids(store)
  for execution in store.get_executions_by_context(pipeline_context.id):
    for context in store.get_contexts_by_execution(execution.id):
      if context_types[context.type_id] in RUN_CONTEXTS:
        runs[context.name] = (context.create_time_since_epoch, context.id)
  return sorted(runs, key=runs.get)


def all_run_ids(metadata_path: str) -> List[str]:
  """Every run id in the store, of any task, oldest first: one query over the pipeline-run contexts."""
  store = open_store(metadata_path)
  contexts = [c for kind in RUN_CONTEXTS for c in store.get_contexts_by_type(kind)]
  return [c.name for c in sorted(contexts, key=lambda c: (c.create_time_since_epoch, c.id))]


def latest_run_id(metadata_path: str, pipeline_name: str) -> Optional[str]:
  ids = run_ids(metadata_path, pipeline_name)
  return ids[-1] if ids else None
