"""Kubeflow Pipelines v2: compiling with KubeflowV2DagRunner, the recurring-run definition beside it, and cron
conversion to KFP's 6-field form. No cluster: the JSON is checked against KFP's v2beta1 RecurringRun fields."""
import datetime
import json
import os

import pytest
from croniter import croniter
from tfx import v1 as tfx

from core import data_contract
from orchestration import kubeflow_runner
from pipeline import tasks

SST2 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'sst2')
IMAGE = 'registry.example/tfx-lstm:test'
START = datetime.datetime(2026, 1, 1, 12, 34, 56)  # mid-minute, so a wrong seconds field shows


@pytest.fixture(scope='module')
def sentiment_task():
  found = data_contract.check_sentiment_data(SST2)
  return tasks.sentiment_task(found.input_splits, found.text_format, found.hash_splits)


@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
  """One compile shared by the module: a real KubeflowV2DagRunner compile of a small TFX pipeline, through the
  runner's own path."""
  out = tmp_path_factory.mktemp('kfp')
  root = str(out / 'root')  # a gs:// root would do as well: compiling never touches it
  example_gen = tfx.components.CsvExampleGen(input_base=SST2)
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
  pipeline = tfx.dsl.Pipeline(pipeline_name='tfx-lstm-sentiment', pipeline_root=root,
                              components=[example_gen, statistics_gen])
  path = kubeflow_runner.compile_tfx_pipeline(pipeline, str(out / 'build' / 'tfx-lstm-sentiment.json'), IMAGE)
  return {'path': path, 'root': root, 'out': out}


def _fires(expression: str, n: int = 30, **kwargs):
  it = croniter(expression, START, **kwargs)
  return [it.get_next(datetime.datetime) for _ in range(n)]


def _same_schedule(five_field: str) -> bool:
  return _fires(kubeflow_runner.kfp_cron(five_field), second_at_beginning=True) == _fires(five_field)


def test_compile_writes_the_pipeline_json_and_nothing_else(compiled):
  path = compiled['path']
  assert os.path.basename(path) == 'tfx-lstm-sentiment.json'
  assert os.listdir(os.path.dirname(path)) == ['tfx-lstm-sentiment.json']  # no packaged module beside it
  assert not os.path.exists(compiled['root'])  # nor anything under the pipeline root
  with open(path) as f:
    job = json.load(f)
  assert job['pipelineSpec']['pipelineInfo']['name'] == 'tfx-lstm-sentiment'
  assert job['runtimeConfig']['gcsOutputDirectory'] == compiled['root']
  images = {e['container']['image'] for e in job['pipelineSpec']['deploymentSpec']['executors'].values()}
  assert images == {IMAGE}


def test_recurring_run_beside_the_compiled_pipeline(compiled):
  path = kubeflow_runner.write_recurring_run(compiled['path'], '0 3 * * 1-5')
  assert path == os.path.join(os.path.dirname(compiled['path']), 'tfx-lstm-sentiment-recurring-run.json')
  with open(path) as f:
    body = json.load(f)
  with open(compiled['path']) as f:
    spec = json.load(f)['pipelineSpec']
  cron = body['trigger']['cron_schedule']['cron']
  assert cron == kubeflow_runner.kfp_cron('0 3 * * 1-5') == '0 0 3 * * 1-5'
  assert _fires(cron, second_at_beginning=True) == _fires('0 3 * * 1-5')
  assert body['max_concurrency'] == '1'
  assert body['mode'] == 'ENABLE'
  assert body['no_catchup'] is True
  assert body['display_name'] == 'tfx-lstm-sentiment'
  assert body['pipeline_spec'] == spec  # the spec itself, not the PipelineJob wrapper
  assert body['pipeline_spec']['pipelineInfo']['name'] == spec['pipelineInfo']['name']
  assert body['runtime_config'] == {'parameters': {}, 'pipeline_root': compiled['root']}
  assert set(body) <= {'display_name', 'description', 'pipeline_spec', 'runtime_config', 'trigger',
                       'max_concurrency', 'mode', 'no_catchup'}  # v2beta1 RecurringRun input fields


def test_recurring_run_output_path_and_bad_cron(compiled):
  custom = str(compiled['out'] / 'elsewhere.json')
  assert kubeflow_runner.write_recurring_run(compiled['path'], '*/30 * * * *', output_path=custom) == custom
  with pytest.raises(ValueError, match='0 0 3 \\* \\* \\*'):
    kubeflow_runner.write_recurring_run(compiled['path'], '0 0 3 * * *', output_path=str(compiled['out'] / 'x'))
  assert not os.path.exists(compiled['out'] / 'x')


def test_recurring_run_body_fields():
  body = kubeflow_runner.recurring_run_body({'pipelineInfo': {'name': 'p'}}, '15 2 1 * *', 'nightly',
                                            max_concurrency=3, no_catchup=False, parameters={'epochs': 2})
  assert body['max_concurrency'] == '3' and body['no_catchup'] is False
  assert body['runtime_config'] == {'parameters': {'epochs': 2}}  # no root given: KFP's default
  json.dumps(body)
  for bad in (0, 11):
    with pytest.raises(ValueError, match='max_concurrency'):
      kubeflow_runner.recurring_run_body({}, '0 3 * * *', 'n', max_concurrency=bad)


@pytest.mark.parametrize('five, six', [
    ('0 3 * * *', '0 0 3 * * *'),
    ('*/15 * * * *', '0 */15 * * * *'),
    ('30 2 1,15 * *', '0 30 2 1,15 * *'),
    ('0 9-17/2 * * mon-fri', '0 0 9-17/2 * * mon-fri'),
    ('0 0 1 JAN,jul 0', '0 0 0 1 JAN,jul 0'),
    ('5 4 * * 6', '0 5 4 * * 6'),
])
def test_kfp_cron_conversion(five, six):
  assert kubeflow_runner.kfp_cron(five) == six
  assert _same_schedule(five)


@pytest.mark.parametrize('cron, message', [
    ('0 0 3 * * *', '5-field form'),  # already KFP's form: refused, not guessed at
    ('0 3 * *', '5 fields'),
    ('', '5 fields'),
    ('@daily', '5 fields'),
    ('0 3 * * 7', 'day-of-week 7'),
    ('0 3 * * 1-7', 'day-of-week 7'),
    ('0 3 L * *', 'day-of-month field'),
    ('0 3 * * 1#2', 'day-of-week field'),
    ('H 3 * * *', 'minute field'),
    ('0 3 ? * *', 'day-of-month field'),
    ('0 3 * foo *', 'month field'),
    ('60 3 * * *', 'not a valid cron'),
    ('0 24 * * *', 'not a valid cron'),
])
def test_kfp_cron_errors_name_the_expression(cron, message):
  with pytest.raises(ValueError) as e:
    kubeflow_runner.kfp_cron(cron)
  assert repr(cron) in str(e.value) and message in str(e.value)


def test_local_profile_blockers_are_named_before_compiling(sentiment_task, tmp_path):
  """The local profile's pipeline holds resolvers, which KFP v2's open-source backend refuses: compiling it names
  each of them and writes nothing (the Kubeflow profile has none: tests/test_kubeflow_compile.py)."""
  from tfx.dsl.components.common import resolver  # pylint: disable=g-import-not-at-top
  from pipeline.pipeline import create_pipeline  # pylint: disable=g-import-not-at-top
  pipeline = create_pipeline(sentiment_task, 'tfx-lstm-sentiment', 'gs://b/root', SST2, 'gs://b/serving')
  blockers = kubeflow_runner.kubeflow_blockers(pipeline)
  resolver_ids = [n.id for n in pipeline.components if isinstance(n, resolver.Resolver)]
  assert resolver_ids == ['data_references', 'warm_start_model', 'latest_blessed_baseline']
  assert len(blockers) == len(resolver_ids)
  for node_id in resolver_ids:
    assert any(repr(node_id) in b for b in blockers), (node_id, blockers)
  with pytest.raises(kubeflow_runner.KubeflowIncompatibleError) as e:
    kubeflow_runner.compile_tfx_pipeline(pipeline, str(tmp_path / 'build' / 'p.json'), IMAGE)
  assert all(b in str(e.value) for b in blockers)
  assert not os.path.exists(tmp_path / 'build')


def test_sentiment_pipeline_compiles_and_schedules(sentiment_task, tmp_path):
  path = kubeflow_runner.compile_pipeline(sentiment_task, str(tmp_path / 'sentiment.json'), 'gs://b/root', SST2,
                                          'gs://b/serving', IMAGE)
  with open(path) as f:
    assert json.load(f)['pipelineSpec']['pipelineInfo']['name'] == 'tfx-lstm-sentiment'
  with open(kubeflow_runner.write_recurring_run(path, '0 3 * * *')) as f:
    assert json.load(f)['pipeline_spec']['pipelineInfo']['name'] == 'tfx-lstm-sentiment'


def test_kubeflow_schedule_command(compiled, tmp_path):
  """`tfx-lstm kubeflow-schedule`: the body beside the spec, or at --output; a bad cron or a missing spec is a
  user error that writes nothing."""
  from conftest import run_cli  # pylint: disable=g-import-not-at-top
  output = str(tmp_path / 'nightly.json')
  result = run_cli('kubeflow-schedule', compiled['path'], '--cron', '0 3 * * *', '--output', output)
  assert result.returncode == 0 and result.stdout.strip() == output, result.stderr
  with open(output) as f:
    assert json.load(f)['trigger']['cron_schedule']['cron'] == '0 0 3 * * *'
  bad = run_cli('kubeflow-schedule', compiled['path'], '--cron', 'at three', '--output', str(tmp_path / 'bad.json'))
  assert bad.returncode == 2 and "'at three'" in bad.stderr and not os.path.exists(tmp_path / 'bad.json')
  missing = run_cli('kubeflow-schedule', str(tmp_path / 'nope.json'), '--cron', '0 3 * * *')
  assert missing.returncode == 2 and 'nope.json does not exist' in missing.stderr
