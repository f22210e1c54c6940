"""Reads what the latest run of a pipeline did from ML Metadata: executions per node and their outputs."""
import collections
import dataclasses
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.pipeline import sqlite_metadata


@dataclasses.dataclass
class RunRecord:
  run_id: str
  execution_states: Dict[str, List[str]]  # node id -> states of its executions in this run
  outputs: Dict[str, List[metadata_store_pb2.Artifact]]  # artifact type name -> output artifacts
  properties: Dict[str, Dict[str, object]]  # node id -> execution properties of its last execution

  def output(self, type_name: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.outputs.get(type_name) or []
    return artifacts[-1] if artifacts else None


def _property(item, name: str):
  """A property or custom property of an MLMD artifact or execution, as a Python value."""
  value = item.custom_properties.get(name) or item.properties.get(name)
  if value is None:
    return None
  return getattr(value, value.WhichOneof('value'))


def artifact_property(artifact: Optional[metadata_store_pb2.Artifact], name: str):
  return None if artifact is None else _property(artifact, name)


def latest_run(metadata_path: str, pipeline_name: str) -> Optional[RunRecord]:
  """The newest pipeline run of `pipeline_name`, or None if it never ran."""
  store = metadata_store.MetadataStore(sqlite_metadata(metadata_path))
  pipeline_context = store.get_context_by_type_and_name('pipeline', pipeline_name)
  if pipeline_context is None:
    return None
  executions = store.get_executions_by_context(pipeline_context.id)
  if not executions:
    return None
  newest = max(executions, key=lambda e: e.id)
  run_context = next(c for c in store.get_contexts_by_execution(newest.id)
                     if store.get_context_types_by_id([c.type_id])[0].name == 'pipeline_run')
  run_executions = sorted(store.get_executions_by_context(run_context.id), key=lambda e: e.id)
  states, properties = collections.defaultdict(list), {}
  state_names = metadata_store_pb2.Execution.State.Name
  for execution in run_executions:
    node_contexts = [c for c in store.get_contexts_by_execution(execution.id)
                     if store.get_context_types_by_id([c.type_id])[0].name == 'node']
    node = node_contexts[0].name.split('.', 1)[-1] if node_contexts else str(execution.id)
    states[node].append(state_names(execution.last_known_state))
    properties[node] = {name: _property(execution, name) for name in
                        list(execution.properties) + list(execution.custom_properties)}
  events = store.get_events_by_execution_ids([e.id for e in run_executions])
  output_ids = sorted({e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT})
  outputs = collections.defaultdict(list)
  artifacts = store.get_artifacts_by_id(output_ids)
  type_names = {t.id: t.name for t in store.get_artifact_types_by_id(list({a.type_id for a in artifacts}))}
  for artifact in sorted(artifacts, key=lambda a: a.id):
    outputs[type_names[artifact.type_id]].append(artifact)
  return RunRecord(run_context.name, dict(states), dict(outputs), properties)
