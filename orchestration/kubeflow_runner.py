"""Kubeflow Pipelines (v2) runs: compiles a task's pipeline with TFX's KubeflowV2DagRunner and writes, beside the
compiled pipeline JSON, a KFP recurring-run definition that retrains on a cron schedule.

Like the local runner it only resolves names and paths and calls `create_pipeline`: the orchestrator provides ML
Metadata (no connection config is compiled in), and `preprocessing_fn`/`run_fn` are referenced by dotted path, so
nothing is packaged or uploaded at compile time. The container image (`image`) must have this project installed
(`pip install .` on top of a TFX 1.16 image): every step imports the project's code from it.

    from orchestration import kubeflow_runner
    spec = kubeflow_runner.compile_pipeline(task, 'build/kfp', 'gs://bucket/root', 'gs://bucket/data',
                                            'gs://bucket/serving', image='registry/tfx-lstm:1.0')
    run = kubeflow_runner.write_recurring_run(spec, '0 3 * * *')   # 03:00 every day

Submitting the definition: POST the file as it is to the KFP API (`/apis/v2beta1/recurringruns` on the ml-pipeline
service, e.g. with curl `-H 'Content-Type: application/json' --data @<file>`); add `experiment_id` (and `namespace`
on multi-user installs) to the JSON first to put it in an experiment other than the default one. With the `kfp` SDK
(2.x) the same fields are arguments of `Client().create_recurring_run(experiment_id, job_name, cron_expression=<the
file's 6-field cron>, max_concurrency=1, no_catchup=True, pipeline_package_path=...)`; the file itself needs no SDK
(and was only checked against KFP's v2beta1 API definition, not a live cluster). KFP evaluates the cron in its
scheduler's time zone (UTC unless the cluster sets CRON_SCHEDULE_TIMEZONE); `max_concurrency` 1 keeps two retrains
from overlapping, and `no_catchup` makes a scheduler that was down start one run, not one per missed time.

Known limit: KFP's open-source v2 backend runs container and importer tasks only; it rejects a pipeline holding a
TFX Resolver (the evaluation baseline, warm start, the data check's references) when the run is created. Vertex AI
Pipelines runs resolvers, but KubeflowV2DagRunner compiles only TFX's two stock resolver strategies, and it needs
custom artifact types named `<module>.<Class>` (the launcher imports them by that name at run time).
`compile_pipeline` names every such node and type up front rather than failing inside TFX or on the cluster.
"""
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence

import yaml
from croniter import croniter
from tfx import v1 as tfx
from tfx.dsl.components.common import resolver
from tfx.dsl.io import fileio

from core.names import pipeline_name
from pipeline.pipeline import create_pipeline
from pipeline.tasks import TaskSpec

KFP_PIPELINE_SPEC_PIN = 'kfp-pipeline-spec==0.2.2'  # the newest that keeps protobuf 3.20 (TFX 1.16's)
RECURRING_RUN_SUFFIX = '-recurring-run.json'
# Kubeflow resource names: lowercase letters, digits and '-', starting with a letter.
_KFP_NAME = re.compile(r'[a-z]([-a-z0-9]*[a-z0-9])?')
_CRON_FIELDS = ('minute', 'hour', 'day-of-month', 'month', 'day-of-week')
# Names KFP's cron parser knows (in any case). croniter's extensions (L, W, #, H) would pass croniter here and be
# refused by KFP on the cluster; '?' (KFP's "any", the same as '*') is left out too.
_CRON_NAMES = {
    'month': ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'),
    'day-of-week': ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'),
}


class KubeflowIncompatibleError(ValueError):
  """The pipeline has nodes or artifact types that KFP v2 cannot compile or run."""


def kfp_cron(cron: str) -> str:
  """KFP's 6-field cron (seconds first) for a standard 5-field cron: `0 3 * * *` -> `0 0 3 * * *`.

  Only the 5-field form is taken, as by the local scheduler (orchestration/scheduler.py): a 6-field expression is
  ambiguous (croniter reads its sixth field as seconds, KFP its first), so one schedule string means the same thing
  to both runners. Fields take numbers, `*`, `,`, `-`, `/` and month or weekday names; day-of-week runs 0-6
  (KFP's parser has no 7 for Sunday), and croniter's extensions (L, W, #, H, @daily...) are refused too.

  Raises:
    ValueError: naming the expression, when it is not such a 5-field cron.
  """
  fields = cron.split()
  if len(fields) == 6:
    raise ValueError(f'cron {cron!r} has 6 fields: pass the 5-field form ({" ".join(_CRON_FIELDS)}); '
                     'the seconds field KFP needs is added here')
  if len(fields) != 5:
    raise ValueError(f'cron {cron!r} must have 5 fields ({" ".join(_CRON_FIELDS)}), not {len(fields)}')
  for name, field in zip(_CRON_FIELDS, fields):
    words = re.findall(r'[A-Za-z]+', field)
    bad = [w for w in words if w.lower() not in _CRON_NAMES.get(name, ())]
    if bad or not re.fullmatch(r'[A-Za-z0-9*,/-]+', field):
      raise ValueError(f'cron {cron!r}: {name} field {field!r} is not supported by KFP (use numbers, *, ",", "-", '
                       f'"/"{" or names" if name in _CRON_NAMES else ""})')
    if name == 'day-of-week' and '7' in re.findall(r'\d+', field):
      raise ValueError(f'cron {cron!r}: day-of-week 7 is not supported by KFP; use 0 for Sunday')
  if not croniter.is_valid(cron):
    raise ValueError(f'cron {cron!r} is not a valid cron expression')
  return ' '.join(['0', *fields])


DEFAULT_IMAGE = 'tfx-lstm:latest'  # what `docker build -t tfx-lstm .` tags (Dockerfile)
OUTPUT_SUFFIXES = ('.yaml', '.yml', '.json')


def compile_pipeline(task: TaskSpec, output_path: str, pipeline_root: str, data_root: str, serving_root: str,
                     image: str = DEFAULT_IMAGE, beam_pipeline_args: Sequence[str] = (),
                     schema_file: Optional[str] = None, warm_start: bool = True, keep_versions: int = 5,
                     enable_cache: bool = True) -> str:
  """Compiles the task's pipeline (the Kubeflow profile) for KFP v2 into `output_path`; returns it.

  A `.yaml` path gets the KFP pipeline spec (schema 2.1) that the KFP UI, `kfp` client and Vertex AI take; a
  `.json` path gets the PipelineJob form (spec plus runtime config with the pipeline root) that
  `google.cloud.aiplatform.PipelineJob(template_path=...)` takes.

  Args:
    task: the task spec.
    output_path: the file to write (local or a TFX filesystem path such as gs://).
    pipeline_root: component outputs, on storage every step can reach (gs://, s3://, a shared volume).
    data_root: the input files, read by ExampleGen inside the cluster.
    serving_root: blessed models are pushed to `<serving_root>/<version>/`; the Kubeflow profile also reads the
      served model from there (components/served_model.py).
    image: container image with this project installed (Dockerfile); every step runs in it.
    beam_pipeline_args: for the Beam-based steps (e.g. Dataflow's flags).
    schema_file: a curated schema.pbtxt at a URI the steps can read; None: each run's inferred schema.
    warm_start, keep_versions, enable_cache: as in `create_pipeline`.

  Raises:
    KubeflowIncompatibleError: listing what in the pipeline KFP v2 cannot compile or run.
  """
  if not output_path.endswith(OUTPUT_SUFFIXES):
    raise ValueError(f'{output_path}: the output must end in .yaml (KFP pipeline spec) or .json (Vertex '
                     'PipelineJob)')
  name = pipeline_name(task.name)
  if not _KFP_NAME.fullmatch(name):
    raise ValueError(f'pipeline name {name!r}: Kubeflow takes lowercase letters, digits and "-" only')
  pipeline = create_pipeline(
      task=task,
      pipeline_name=name,
      pipeline_root=pipeline_root,
      data_root=data_root,
      serving_root=serving_root,
      metadata_connection_config=None,  # the orchestrator's ML Metadata
      beam_pipeline_args=list(beam_pipeline_args),
      enable_cache=enable_cache,
      schema_file=schema_file,
      warm_start=warm_start,
      keep_versions=keep_versions,
      profile='kubeflow',
  )
  return compile_tfx_pipeline(pipeline, output_path, image)


def compile_tfx_pipeline(pipeline: tfx.dsl.Pipeline, output_path: str, image: str) -> str:
  """Compiles a TFX pipeline with KubeflowV2DagRunner (pipeline spec schema 2.1) into `output_path` (.yaml or
  .json, see `compile_pipeline`); returns the path. Nothing else is written: no module file is packaged, code is
  referenced by dotted path and imported from the image."""
  blockers = kubeflow_blockers(pipeline)
  if blockers:
    raise KubeflowIncompatibleError(
        f'pipeline {pipeline.pipeline_info.pipeline_name!r} cannot run on Kubeflow Pipelines v2:\n  - '
        + '\n  - '.join(blockers))
  runner_lib = _kubeflow_v2_runner()
  runner = runner_lib.KubeflowV2DagRunner(
      config=runner_lib.KubeflowV2DagRunnerConfig(default_image=image, use_pipeline_spec_2_1=True),
      output_dir=os.path.dirname(output_path) or '.', output_filename=os.path.basename(output_path))
  runner.run(pipeline, write_out=True)
  return output_path


def read_compiled(path: str) -> Dict[str, Any]:
  """A compiled pipeline file as a dict: the PipelineJob (.json) or the pipeline spec (.yaml)."""
  with fileio.open(path, 'r') as f:
    text = f.read()
  return yaml.safe_load(text) if path.endswith(('.yaml', '.yml')) else json.loads(text)


def kubeflow_blockers(pipeline: tfx.dsl.Pipeline) -> List[str]:
  """What in `pipeline` keeps it from compiling with KubeflowV2DagRunner or from running on open-source KFP v2:
  resolver nodes, and artifact types whose names TFX's KFP v2 compiler refuses. Empty when there is none."""
  compiler_utils = _kubeflow_v2_compiler_utils()
  blockers, seen_types = [], set()
  for node in pipeline.components:
    if isinstance(node, resolver.Resolver):
      strategy = node.exec_properties.get(resolver.RESOLVER_STRATEGY_CLASS)
      blockers.append(f'resolver node {node.id!r} ({getattr(strategy, "__name__", strategy)}): KFP v2\'s '
                      'open-source backend rejects resolver tasks when the run is created')
    for key, channel in [*node.inputs.items(), *node.outputs.items()]:
      artifact_type = channel.type
      if artifact_type in seen_types:
        continue
      seen_types.add(artifact_type)
      try:
        compiler_utils.get_artifact_schema(artifact_type)
      except ValueError:
        blockers.append(f'artifact type {artifact_type.TYPE_NAME!r} ({node.id}.{key}): KFP v2 needs custom type '
                        'names of the form "<module>.<Class>", importable by that name in the image')
  return blockers


def recurring_run_body(pipeline_spec: Dict[str, Any], cron: str, display_name: str, max_concurrency: int = 1,
                       no_catchup: bool = True, parameters: Optional[Dict[str, Any]] = None,
                       pipeline_root: Optional[str] = None, description: str = '') -> Dict[str, Any]:
  """The request body of KFP's `POST /apis/v2beta1/recurringruns` (a v2beta1 RecurringRun) for `pipeline_spec`.

  Args:
    pipeline_spec: the PipelineSpec (the compiled JSON's `pipelineSpec`), embedded: no upload needed first.
    cron: standard 5-field cron; KFP gets its 6-field form (`kfp_cron`).
    display_name: the recurring run's name in KFP.
    max_concurrency: runs of it going at once, 1-10; 1: a retrain never overlaps the previous one.
    no_catchup: after the scheduler was down, start one run rather than one per missed time.
    parameters: pipeline parameter values (plain JSON values), if any.
    pipeline_root: outputs' root; None leaves KFP's default (TFX writes it into the compiled job, not the spec).
    description: free text.
  """
  if not 1 <= max_concurrency <= 10:
    raise ValueError(f'max_concurrency must be 1-10 (KFP\'s range), got {max_concurrency}')
  if not display_name:
    raise ValueError('display_name must not be empty')
  runtime_config: Dict[str, Any] = {'parameters': dict(parameters or {})}
  if pipeline_root:
    runtime_config['pipeline_root'] = pipeline_root
  return {
      'display_name': display_name,
      'description': description,
      'pipeline_spec': pipeline_spec,
      'runtime_config': runtime_config,
      'trigger': {'cron_schedule': {'cron': kfp_cron(cron)}},
      'max_concurrency': str(max_concurrency),  # int64: a string in proto3 JSON
      'mode': 'ENABLE',
      'no_catchup': no_catchup,
  }


def write_recurring_run(pipeline_json_path: str, cron: str, output_path: Optional[str] = None) -> str:
  """Writes the recurring-run definition for a compiled pipeline (`compile_pipeline`'s JSON) to `output_path`,
  by default `<pipeline_name>-recurring-run.json` beside it; returns the path written."""
  compiled = read_compiled(pipeline_json_path)
  # The .json form is a PipelineJob: the spec plus the runtime config that holds the pipeline root.
  spec = compiled.get('pipelineSpec', compiled)
  name = spec['pipelineInfo']['name']
  body = recurring_run_body(
      spec, cron, display_name=name,
      pipeline_root=compiled.get('runtimeConfig', {}).get('gcsOutputDirectory'),
      description=f'Retrains {name} on the schedule {cron!r} (KFP: {kfp_cron(cron)!r}).')
  output_path = output_path or os.path.join(os.path.dirname(pipeline_json_path), name + RECURRING_RUN_SUFFIX)
  with fileio.open(output_path, 'w') as f:
    json.dump(body, f, indent=2, sort_keys=True)
  return output_path


def _kubeflow_v2_runner():
  try:
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f'KubeflowV2DagRunner needs {KFP_PIPELINE_SPEC_PIN}: pip install {KFP_PIPELINE_SPEC_PIN}'
                      ) from e
  return kubeflow_v2_dag_runner


def _kubeflow_v2_compiler_utils():
  try:
    from tfx.orchestration.kubeflow.v2 import compiler_utils  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError(f'KubeflowV2DagRunner needs {KFP_PIPELINE_SPEC_PIN}: pip install {KFP_PIPELINE_SPEC_PIN}'
                      ) from e
  return compiler_utils
