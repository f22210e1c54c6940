"""Tier 1: the check that a run's Beam components were given the PortableRunner reads the deployment config
LocalDagRunner logs (conftest.beam_runners), so an end-to-end run cannot fall back to the DirectRunner unnoticed."""
import subprocess

from google.protobuf import text_format
from tfx.proto.orchestration import local_deployment_config_pb2

from conftest import beam_runners


def _log_of_a_run(root, run_id: str, beam_args) -> subprocess.CompletedProcess:
  config = local_deployment_config_pb2.LocalDeploymentConfig()
  config.executor_specs['SchemaGen'].python_class_executable_spec.class_path = 'tfx.components.schema_gen.Executor'
  for node in ('Transform', 'Evaluator'):
    spec = config.executor_specs[node].beam_executable_spec
    spec.python_executor_spec.class_path = f'tfx.components.{node.lower()}.executor.Executor'
    spec.beam_pipeline_args.extend(beam_args)
  (root / 'logs').mkdir(parents=True)
  (root / 'logs' / f'{run_id}.log').write_text(
      '2026-11-26 11:39:49,694 WARNING absl: `custom_executor_spec` is deprecated.\n'
      f'2026-11-26 11:39:49,727 INFO absl: Using deployment config:\n {text_format.MessageToString(config)}\n'
      '2026-11-26 11:39:49,760 INFO absl: Going to run a new execution 1\n', encoding='utf-8')
  return subprocess.CompletedProcess([], 0, f'tfx-lstm translate: ...\n  run {run_id}\n', '')


def test_runners_are_read_from_the_logged_deployment_config(tmp_path):
  portable = _log_of_a_run(tmp_path / 'a', 'translate-1', ['--direct_num_workers=1', '--runner=PortableRunner',
                                                            '--job_endpoint=embed'])
  assert beam_runners(str(tmp_path / 'a'), portable) == {'Transform': 'PortableRunner', 'Evaluator': 'PortableRunner'}
  direct = _log_of_a_run(tmp_path / 'b', 'translate-2', ['--direct_num_workers=1'])
  assert beam_runners(str(tmp_path / 'b'), direct) == {'Transform': 'DirectRunner', 'Evaluator': 'DirectRunner'}
  last_wins = _log_of_a_run(tmp_path / 'c', 'translate-3', ['--runner=PortableRunner', '--runner=DirectRunner'])
  assert set(beam_runners(str(tmp_path / 'c'), last_wins).values()) == {'DirectRunner'}
