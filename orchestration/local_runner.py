"""Local runs: LocalDagRunner, Beam's DirectRunner, ML Metadata in SQLite under the root.

Resolves paths, Beam arguments and the run id, and calls `create_pipeline`; the CLI adds the lock, progress and
the summary.
"""
import hashlib
import json
import os
from typing import List, Optional, Sequence

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.compiler import compiler
from tfx.dsl.compiler import constants
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import runtime_parameter_utils

from core import storage
from core.layout import RootLayout
from core.names import FAILURE_PROPERTY
from core.names import PLANNED_NODES_PROPERTY
from core.names import RUN_CONTEXT
from core.names import pipeline_name
from pipeline.pipeline import create_pipeline
from pipeline.pipeline import sqlite_metadata
from pipeline.tasks import TaskSpec

# Small data on a 2-core machine: one in-process worker beats multi-process start-up every time. Flags given
# with --beam-arg come after these, so they win.
DEFAULT_BEAM_ARGS = ('--direct_running_mode=in_memory', '--direct_num_workers=1')
# Beam flags that tell Beam (and TFX) how to ship dependencies to workers.
DEPENDENCY_FLAGS = ('--extra_package', '--extra_packages', '--setup_file', '--requirements_file',
                    '--sdk_container_image', '--worker_harness_container_image')
EMPTY_REQUIREMENTS = 'no-requirements.txt'


def keep_schema(layout: RootLayout, content: str) -> str:
  """A curated schema's copy under the root, in a folder named by its content: ImportSchemaGen is cached by path,
  so an edited schema must get a new one."""
  path = layout.schema_file(hashlib.sha256(content.encode('utf-8')).hexdigest()[:16])
  if not os.path.exists(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
      f.write(content)
    os.replace(path + '.tmp', path)
  return path


def beam_args(user_args: Sequence[str], layout: RootLayout) -> List[str]:
  """The defaults, then the user's flags. TFX builds an sdist of itself inside every Beam component when the
  Beam args are non-empty and name no dependency flag (for remote workers); locally that costs seconds per
  component for nothing, so an empty requirements file is named unless the user gave a dependency flag."""
  args = [*DEFAULT_BEAM_ARGS, *user_args]
  if not any(arg.split('=', 1)[0] in DEPENDENCY_FLAGS for arg in user_args):
    os.makedirs(layout.beam, exist_ok=True)
    empty = os.path.join(layout.beam, EMPTY_REQUIREMENTS)
    if not os.path.exists(empty):
      open(empty, 'w').close()
    args.append(f'--requirements_file={empty}')
    # A runner that stages a job (PortableRunner, Flink, Spark) would run `pip download` on that empty file in
    # every Beam component (about 2 s each): there is nothing to fetch.
    if not any(arg.split('=', 1)[0] == '--requirements_cache' for arg in user_args):
      args.append('--requirements_cache=skip')
  return args


def build_local_pipeline(task: TaskSpec, data_root: str, layout: RootLayout, user_beam_args: Sequence[str] = (),
                         enable_cache: bool = True, schema_file: Optional[str] = None, warm_start: bool = True,
                         keep_versions: int = 5, profile: str = 'local'):
  """The task's pipeline with local paths: SQLite metadata under the root, Beam on the DirectRunner (or the runner
  the Beam args name). `profile` 'kubeflow' builds what `tfx-lstm compile` compiles, to try it here."""
  return create_pipeline(
      task=task,
      pipeline_name=pipeline_name(task.name),
      pipeline_root=layout.pipeline_root(task.name),
      data_root=data_root if storage.is_remote(data_root) else os.path.abspath(data_root),
      serving_root=layout.serving_root(task.name),
      metadata_connection_config=sqlite_metadata(layout.metadata_path),
      beam_pipeline_args=beam_args(user_beam_args, layout),
      enable_cache=enable_cache,
      schema_file=schema_file,
      warm_start=warm_start,
      keep_versions=keep_versions,
      profile=profile,
  )


def pipeline_from_settings(settings, task: TaskSpec, schema_content: Optional[str] = None,
                           enable_cache: Optional[bool] = None):
  """The local pipeline of a run's settings (pipeline/preflight.py: the flags of `tfx-lstm run`, by name) and
  its checked task spec: the one place run flags become pipeline options. `enable_cache` overrides --no-cache."""
  layout = RootLayout.at(settings.root)
  return build_local_pipeline(
      task, settings.data, layout, settings.beam_arg,
      enable_cache=not settings.no_cache if enable_cache is None else enable_cache,
      schema_file=keep_schema(layout, schema_content) if schema_content else None,
      warm_start=not settings.no_warm_start, keep_versions=settings.keep_versions, profile=settings.profile)


def run_local(pipeline, run_id: str) -> None:
  """Runs the pipeline with LocalDagRunner under `run_id` (LocalDagRunner would pick a timestamp of its own, which
  the caller could not know before the run ends), then records its node ids on the run's context."""
  ir = compiler.Compiler().compile(pipeline)
  runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
  try:
    LocalDagRunner().run_with_ir(ir)
  except Exception as e:
    _record_failure(pipeline.metadata_connection_config, run_id, f'{type(e).__name__}: {e}')
    raise
  finally:
    _record_planned_nodes(pipeline.metadata_connection_config, run_id,
                          [node.pipeline_node.node_info.id for node in ir.nodes])


def _record_failure(connection_config, run_id: str, error: str) -> None:
  """Files the error on the run's failed execution: TFX writes it to the log only, and the run's report and
  summary say why the run stopped."""
  store = metadata_store.MetadataStore(connection_config)
  context = store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
  if context is None:
    return
  failed = [e for e in store.get_executions_by_context(context.id)
            if e.last_known_state == metadata_store_pb2.Execution.FAILED]
  for execution in failed:
    execution.custom_properties[FAILURE_PROPERTY].string_value = error
  if failed:
    store.put_executions(failed)


def _record_planned_nodes(connection_config, run_id: str, node_ids: List[str]) -> None:
  """Every node of the run, in pipeline order, as a property of the run's pipeline-run context: ML Metadata has no
  trace of nodes that never started (after a failure), and the run's report lists them as such."""
  store = metadata_store.MetadataStore(connection_config)
  context = store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
  if context is None:  # the run failed before TFX created it
    return
  context.custom_properties[PLANNED_NODES_PROPERTY].string_value = json.dumps(node_ids)
  store.put_contexts([context])
