"""ML Metadata lineage lookups the resolvers share: who produced an artifact, what an execution read, which
run an execution belonged to. Plain `ml_metadata` store calls; no TFX internals."""
from typing import List, Optional, Set

from ml_metadata.proto import metadata_store_pb2

from core.names import RUN_CONTEXTS

_Event = metadata_store_pb2.Event


def producer_execution_id(store, artifact_id: int) -> Optional[int]:
  """The execution that wrote the artifact (its OUTPUT event), or None."""
  for event in store.get_events_by_artifact_ids([artifact_id]):
    if event.type in (_Event.OUTPUT, _Event.DECLARED_OUTPUT):
      return event.execution_id
  return None


def input_artifact_ids(store, execution_id: int) -> Set[int]:
  """Every artifact the execution read."""
  return {e.artifact_id for e in store.get_events_by_execution_ids([execution_id])
          if e.type in (_Event.INPUT, _Event.DECLARED_INPUT)}


def run_artifact_ids(store, artifact_id: int) -> Set[int]:
  """Every artifact of the pipeline run whose execution produced `artifact_id` (cached executions included:
  TFX files the artifacts they reuse under the run too)."""
  execution_id = producer_execution_id(store, artifact_id)
  if execution_id is None:
    return set()
  ids: Set[int] = set()
  for context in store.get_contexts_by_execution(execution_id):
    if context.type in RUN_CONTEXTS:
      ids |= {a.id for a in store.get_artifacts_by_context(context.id)}
  return ids


def blessed_model_ids(blessings: List, newest_first: bool = True) -> List[int]:
  """Model ids of the blessings that bless (blessed == 1), ordered by blessing: a rollback files a new blessing
  for the model it re-serves, which makes that model the latest blessed one."""
  ordered = sorted(blessings, key=lambda b: b.id, reverse=newest_first)
  return [b.get_int_custom_property('current_model_id') for b in ordered
          if b.get_int_custom_property('blessed') == 1]


def written_by(artifact, node_id: str, output_key: str) -> bool:
  """Whether a TFX node's output key wrote the artifact: TFX lays outputs out as
  `<pipeline root>/<node id>/<output key>/<execution id>`. (A channel naming a producer would select this
  run's output only, and an artifact type alone mixes e.g. StatisticsGen's and Transform's statistics.)"""
  parts = artifact.uri.rstrip('/').split('/')
  return len(parts) >= 3 and parts[-3] == node_id and parts[-2] == output_key


def span_of(artifact) -> int:
  """An Examples artifact's span: ExampleGen files it as a custom property in this TFX version."""
  return artifact.get_int_custom_property('span') or artifact.span


def examples_span(store, artifact_id: int) -> int:
  """The span of the examples an artifact was computed from (StatisticsGen copies 0 into its own `span`)."""
  execution_id = producer_execution_id(store, artifact_id)
  if execution_id is None:
    return 0
  inputs = store.get_artifacts_by_id(sorted(input_artifact_ids(store, execution_id)))
  spans = [a.custom_properties['span'].int_value for a in inputs if 'span' in a.custom_properties]
  return max(spans, default=0)
