"""`tfx-lstm compile`: each task's Kubeflow-profile pipeline, compiled with KubeflowV2DagRunner and validated
offline: strict parse into KFP's PipelineSpec proto, components and executors, the DAG, image and code references,
and the .json form loaded by Vertex AI's PipelineJob. Also the Dockerfile's agreement with the project."""
import json
import os
import re
import warnings

import pytest
import tomli
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.utils import import_utils

from conftest import REPO, run_cli
from cli import kubeflow as kubeflow_command
from cli import main as cli
from pipeline import tasks

IMAGE = 'registry.example/team/tfx-lstm:2026-11-26'
ROOT = 'gs://tfx-lstm-test/root'
SERVING = 'gs://tfx-lstm-test/serving/{task}'
TASK_MODULES = {  # (preprocessing_fn, run_fn) the task specs name
    'forecast': ('preprocessing.forecast_transform.preprocessing_fn', 'trainer.forecast_trainer.run_fn'),
    'sentiment': ('preprocessing.sentiment_transform.preprocessing_fn', 'trainer.sentiment_trainer.run_fn'),
    'translate': ('preprocessing.translate_transform.preprocessing_fn', 'trainer.translate_trainer.run_fn'),
}
NODES = {'FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataCheck', 'Transform',
         'LatestServedModel', 'Trainer', 'Evaluator', 'ServingSmokeTest', 'Pusher', 'EvalPredictions'}


@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
  """Each task compiled once as .yaml (KFP spec) and once as .json (Vertex PipelineJob), in this process."""
  out = tmp_path_factory.mktemp('compiled')
  paths = {}
  for task in TASK_MODULES:
    for suffix in ('yaml', 'json'):
      path = str(out / f'{task}.{suffix}')
      status = cli.main(['compile', task, '--output', path, '--image', IMAGE, '--pipeline-root', ROOT,
                         '--serving', SERVING.format(task=task), '--epochs', '3',
                         '--beam-arg=--runner=DataflowRunner', '--beam-arg=--region=europe-west1'])
      assert status == 0
      paths[task, suffix] = path
  return paths


def _spec(paths, task, suffix='yaml'):
  """The PipelineSpec dict: the YAML file is the spec, the JSON file a PipelineJob holding it."""
  with open(paths[task, suffix]) as f:
    return yaml.safe_load(f) if suffix == 'yaml' else json.load(f)['pipelineSpec']


def _executors(spec):
  return spec['deploymentSpec']['executors']


def _arg_after(args, flag):
  return args[args.index(flag) + 1]


@pytest.mark.parametrize('task', sorted(TASK_MODULES))
def test_compiled_spec_parses_strictly_into_the_kfp_proto(compiled, task):
  for suffix in ('yaml', 'json'):
    proto = json_format.ParseDict(_spec(compiled, task, suffix), pipeline_spec_pb2.PipelineSpec(),
                                  ignore_unknown_fields=False)
    assert proto.pipeline_info.name == f'tfx-lstm-{task}'
    assert re.fullmatch(r'[a-z]([-a-z0-9]*[a-z0-9])?', proto.pipeline_info.name)
    assert proto.schema_version == '2.1.0'
  with open(compiled[task, 'json']) as f:  # the whole PipelineJob, runtime config included
    job = json_format.ParseDict(json.load(f), pipeline_spec_pb2.PipelineJob(), ignore_unknown_fields=False)
  assert job.runtime_config.gcs_output_directory == ROOT


@pytest.mark.parametrize('task', sorted(TASK_MODULES))
def test_every_task_has_its_component_and_an_executor_that_imports(compiled, task):
  spec = _spec(compiled, task)
  dag_tasks = spec['root']['dag']['tasks']
  expected = NODES | ({'TimeSeriesWindowGen', 'ForecastTestScore'} if task == 'forecast' else set())
  assert set(dag_tasks) == expected  # no resolver node: the Kubeflow profile reads the serving directory
  for name, dag_task in dag_tasks.items():
    component = spec['components'][dag_task['componentRef']['name']]
    executor = _executors(spec)[component['executorLabel']]['container']
    assert executor['image'] == IMAGE
    class_path = _arg_after(executor['args'], '--executor_class_path')
    assert not class_path.startswith('__main__'), (name, class_path)
    assert import_utils.import_class_by_path(class_path), class_path  # what the launcher does in the image
  # The project's artifact types are named so the launcher can import them by name.
  titles = set(re.findall(r'title: ([\w.]+)', json.dumps(spec)))
  custom = {t for t in titles if not t.startswith('tfx.')}
  assert custom <= {'components.DataCheckResult', 'components.Predictions', 'components.TestScore',
                    'components.WindowReport'}, custom
  for title in custom:
    assert import_utils.import_class_by_path(title).TYPE_NAME == title


@pytest.mark.parametrize('task', sorted(TASK_MODULES))
def test_dependencies_form_a_dag_in_pipeline_order(compiled, task):
  dag_tasks = _spec(compiled, task)['root']['dag']['tasks']
  depends = {name: set(t.get('dependentTasks', [])) for name, t in dag_tasks.items()}
  assert all(d <= set(dag_tasks) for d in depends.values())
  order, done = [], set()
  while len(order) < len(depends):
    ready = sorted(name for name, d in depends.items() if name not in done and d <= done)
    assert ready, f'cycle among {set(depends) - done}'
    order += ready
    done |= set(ready)
  position = {name: i for i, name in enumerate(order)}
  for before, after in [('FileBasedExampleGen', 'StatisticsGen'), ('DataCheck', 'Transform'),
                        ('DataCheck', 'LatestServedModel'), ('LatestServedModel', 'Trainer'),
                        ('Trainer', 'Evaluator'), ('Evaluator', 'ServingSmokeTest'), ('ServingSmokeTest', 'Pusher'),
                        ('Pusher', 'EvalPredictions')]:
    assert position[before] < position[after], (before, after)
  # The served model is both the Trainer's warm start and the Evaluator's baseline.
  inputs = lambda node: dag_tasks[node]['inputs']['artifacts']  # pylint: disable=unnecessary-lambda-assignment
  assert inputs('Trainer')['base_model']['taskOutputArtifact']['producerTask'] == 'LatestServedModel'
  assert inputs('Evaluator')['baseline_model']['taskOutputArtifact']['producerTask'] == 'LatestServedModel'


def _parameter(dag_task, name):
  return dag_task['inputs']['parameters'][name]['runtimeValue']['constant']


@pytest.mark.parametrize('task', sorted(TASK_MODULES))
def test_code_and_paths_are_the_requested_ones(compiled, task):
  spec = _spec(compiled, task)
  dag_tasks = spec['root']['dag']['tasks']
  preprocessing_fn, run_fn = TASK_MODULES[task]
  assert _parameter(dag_tasks['Transform'], 'preprocessing_fn') == preprocessing_fn
  assert _parameter(dag_tasks['Trainer'], 'run_fn') == run_fn
  assert json.loads(_parameter(dag_tasks['Trainer'], 'custom_config'))['hyperparameters']['epochs'] == 3
  text = json.dumps(spec)
  assert 'module_file' not in text and 'module_path' not in text  # nothing packaged or uploaded
  assert REPO not in text  # no path of this machine: code comes from the image, data from --data
  data_dir = {'forecast': 'beijing_pm25', 'sentiment': 'sst2', 'translate': 'fra_eng'}[task]
  assert _parameter(dag_tasks['FileBasedExampleGen'], 'input_base') == f'/app/data/{data_dir}'
  assert _parameter(dag_tasks['LatestServedModel'], 'serving_root') == SERVING.format(task=task)
  assert SERVING.format(task=task) in _parameter(dag_tasks['Pusher'], 'push_destination')
  beam_args = _executors(spec)['Transform_executor']['container']['args']
  assert '--runner=DataflowRunner' in beam_args and '--region=europe-west1' in beam_args


def test_json_form_loads_as_a_vertex_pipeline_job(compiled):
  from google.auth.credentials import AnonymousCredentials  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    from google.cloud import aiplatform  # pylint: disable=g-import-not-at-top
  for task in TASK_MODULES:
    job = aiplatform.PipelineJob(
        display_name=f'tfx-lstm-{task}', template_path=compiled[task, 'json'], pipeline_root=ROOT,
        project='tfx-lstm-test', location='europe-west1', credentials=AnonymousCredentials())
    resource = job._gca_resource  # pylint: disable=protected-access  (built locally; nothing is submitted)
    assert resource.pipeline_spec['pipelineInfo']['name'] == f'tfx-lstm-{task}'
    assert resource.runtime_config.gcs_output_directory == ROOT
    assert set(resource.pipeline_spec['root']['dag']['tasks']) >= NODES


def test_compile_command_errors_write_nothing(tmp_path):
  wrong_suffix = run_cli('compile', 'sentiment', '--output', str(tmp_path / 'p.txt'), '--pipeline-root', ROOT)
  assert wrong_suffix.returncode == 2 and '.yaml' in wrong_suffix.stderr
  remote = run_cli('compile', 'sentiment', '--output', str(tmp_path / 'p.yaml'), '--pipeline-root', ROOT,
                   '--data', 'gs://bucket/reviews')
  assert remote.returncode == 2 and '--data-sample' in remote.stderr
  local_schema = run_cli('compile', 'sentiment', '--output', str(tmp_path / 'p.yaml'), '--pipeline-root', ROOT,
                         '--schema', 'schema.pbtxt')
  assert local_schema.returncode == 2 and 'gs://BUCKET/schema.pbtxt' in local_schema.stderr
  assert os.listdir(tmp_path) == []


def test_remote_data_is_checked_on_its_local_sample(tmp_path):
  output = str(tmp_path / 'sentiment.yaml')
  result = run_cli('compile', 'sentiment', '--output', output, '--pipeline-root', ROOT,
                   '--data', 'gs://bucket/reviews', '--data-sample', os.path.join(REPO, 'data', 'sst2'))
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith(f'{output}: sentiment pipeline for Kubeflow Pipelines v2')
  with open(output) as f:
    spec = yaml.safe_load(f)
  assert _parameter(spec['root']['dag']['tasks']['FileBasedExampleGen'], 'input_base') == 'gs://bucket/reviews'
  assert _parameter(spec['root']['dag']['tasks']['Pusher'], 'push_destination').count(f'{ROOT}/serving/sentiment')


# ----------------------------------------------------------------------------------------------------
# The Dockerfile (it cannot be built here: no registry access) against the project it packages.

def _dockerfile():
  with open(os.path.join(REPO, 'Dockerfile')) as f:
    return f.read()


def test_dockerfile_uses_the_projects_python_and_pins():
  dockerfile = _dockerfile()
  with open(os.path.join(REPO, '.python-version')) as f:
    python_version = f.read().strip()
  base = re.search(r'^FROM python:(\S+)', dockerfile, re.M).group(1)
  assert base.split('-')[0] == python_version  # same interpreter as make's venv
  with open(os.path.join(REPO, 'Makefile')) as f:
    makefile = f.read()
  for pin in re.findall(r'"((?:pip|setuptools)==[\d.]+)"', makefile):
    assert f'"{pin}"' in dockerfile, pin
  installs = [line for line in dockerfile.splitlines() if 'pip install' in line and '-c constraints.txt' in line]
  assert installs and all(line.rstrip(' \\').endswith(('.', '-e .')) for line in installs), installs
  assert re.search(r'^COPY .*constraints\.txt', dockerfile, re.M)
  assert 'TF_USE_LEGACY_KERAS=1' in dockerfile


def test_dockerfile_installs_every_package_and_the_entry_point():
  dockerfile = _dockerfile()
  with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
    project = tomli.load(f)
  for package in project['tool']['setuptools']['packages']:
    assert re.search(rf'^COPY {package}/ {package}/$', dockerfile, re.M), package
  assert re.search(r'^COPY data/ data/$', dockerfile, re.M)  # the bundled samples: compile's default --data
  (script,) = project['project']['scripts']
  stages = re.split(r'^FROM ', dockerfile, flags=re.M)
  assert stages[-1].startswith('base AS app')  # the default target: `docker build -t tfx-lstm .`
  assert re.search(r'^ENTRYPOINT \["(.+)"\]$', stages[-1], re.M).group(1) == script
  worker = next(stage for stage in stages if stage.startswith('base AS beam-worker'))
  beam = project['project']['dependencies']
  beam = next(d for d in beam if d.startswith('apache-beam[gcp]==')).split('==')[1]
  with open(os.path.join(REPO, '.python-version')) as f:
    python = '.'.join(f.read().strip().split('.')[:2])
  assert f'apache/beam_python{python}_sdk:{beam} /opt/apache/beam' in worker  # the pinned Beam's worker boot
  workdir = re.search(r'^WORKDIR (\S+)$', dockerfile, re.M).group(1)
  assert kubeflow_command.IMAGE_DATA_ROOT == f'{workdir}/data'
  from orchestration import kubeflow_runner  # pylint: disable=g-import-not-at-top
  assert kubeflow_runner.DEFAULT_IMAGE.split(':')[0] in dockerfile  # `docker build -t tfx-lstm .`
  args = cli.build_parser().parse_args(['compile', 'forecast', '--output', 'p.yaml', '--pipeline-root', ROOT])
  assert args.image == kubeflow_runner.DEFAULT_IMAGE


def test_recurring_run_from_the_yaml_form(compiled, tmp_path):
  from orchestration import kubeflow_runner  # pylint: disable=g-import-not-at-top
  path = kubeflow_runner.write_recurring_run(compiled['sentiment', 'yaml'], '0 3 * * *',
                                             str(tmp_path / 'nightly.json'))
  with open(path) as f:
    body = json.load(f)
  assert body['pipeline_spec'] == _spec(compiled, 'sentiment')
  assert body['trigger']['cron_schedule']['cron'] == '0 0 3 * * *'
  assert 'pipeline_root' not in body['runtime_config']  # the spec alone names none: KFP's default root
