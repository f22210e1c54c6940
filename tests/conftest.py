"""Test set-up shared by every tier.

TF_USE_LEGACY_KERAS must be set before TensorFlow is imported (docs/design.md §7), and the CPU is split into two
logical devices before TensorFlow initialises, so the multi-replica MirroredStrategy path runs on CPU.
"""
import os
import re
import subprocess
import sys

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_FORECAST_CSV = os.path.join(REPO, 'data', 'beijing_pm25', 'beijing_pm25_2013_2014.csv')


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
  """Runs `tfx-lstm ARGS` in a fresh process (its own TensorFlow, as a user would)."""
  return subprocess.run([sys.executable, '-m', 'cli', *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)


def sst2_head(directory, rows: int) -> str:
  """A data directory of the bundled SST-2 sample's first `rows` training and `rows // 4` dev sentences."""
  os.makedirs(directory)
  for name, count in (('train.tsv', rows), ('dev.tsv', rows // 4)):
    with open(os.path.join(REPO, 'data', 'sst2', name), encoding='utf-8') as f:
      head = f.readlines()[:count + 1]
    with open(os.path.join(directory, name), 'w', encoding='utf-8') as f:
      f.writelines(head)
  return str(directory)


def run_id_of(result) -> str:
  """The run id a `tfx-lstm run` printed (its `  run <id>` line)."""
  for line in result.stdout.splitlines():
    if line.startswith('  run '):
      return line.split()[1]
  raise AssertionError(f'no run id in the output:\n{result.stdout}\n{result.stderr}')


def read_run_of(root: str, result):
  """The ML Metadata record of the run that printed `result`."""
  from records import run_record  # pylint: disable=g-import-not-at-top
  record = run_record.read_run(os.path.join(root, 'metadata.sqlite'), run_id_of(result))
  assert record is not None, run_id_of(result)
  return record



# Beam's PortableRunner with the embedded job server and the SDK harness in the launching process: a run that
# passes with these proves no Beam component depends on the in-process DirectRunner (it goes through a job
# service: the pipeline proto, artifact staging, the Fn API). Works offline.
PORTABLE_RUNNER_ARGS = ('--runner=PortableRunner', '--job_endpoint=embed', '--environment_type=LOOPBACK')


def portable_staging(root: str) -> str:
  """Where Beam's stager keeps its requirements cache in a run of `portable_beam_args(root)`."""
  return os.path.join(root, 'beam', 'portable-requirements-cache')


def portable_beam_args(root: str) -> list:
  """`tfx-lstm run` flags that run every Beam component of a run under `root` on the PortableRunner.

  `--requirements_cache` under the root is the trace `assert_ran_on_portable_runner` looks for: Beam's stager
  creates that directory when it stages a job for a job service, which the DirectRunner never does. Beam flags
  are part of the Beam components' cache keys: every run on one root that expects the cache must get the same.
  """
  return [f'--beam-arg={arg}' for arg in (*PORTABLE_RUNNER_ARGS, f'--requirements_cache={portable_staging(root)}')]


def _deployment_config(log: str):
  """The LocalDeploymentConfig LocalDagRunner logs at the start of a run (its text-format dump)."""
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tfx.proto.orchestration import local_deployment_config_pb2  # pylint: disable=g-import-not-at-top
  start = log.index('Using deployment config:\n') + len('Using deployment config:\n')
  end = re.search(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ', log[start:], re.MULTILINE)
  return text_format.Parse(log[start:start + end.start()], local_deployment_config_pb2.LocalDeploymentConfig())


def beam_runners(root: str, result) -> dict:
  """{Beam-based node: the runner its Beam pipeline was given (the last --runner flag; DirectRunner if none)}, from
  the deployment config in the run's log."""
  with open(os.path.join(root, 'logs', f'{run_id_of(result)}.log'), encoding='utf-8') as f:
    config = _deployment_config(f.read())
  runners = {}
  for node, spec in config.executor_specs.items():
    if spec.WhichOneof('spec') == 'beam_executable_spec':
      args = spec.beam_executable_spec.beam_pipeline_args
      flags = [arg.split('=', 1)[1] for arg in args if arg.startswith('--runner=')]
      runners[node] = flags[-1] if flags else 'DirectRunner'
  return runners


def assert_ran_on_portable_runner(root: str, result, beam_nodes) -> None:
  """The run gave every Beam-based component the PortableRunner, those components executed, and Beam staged a job
  (a job service was used), so the run cannot have fallen back to the DirectRunner unnoticed."""
  runners = beam_runners(root, result)
  assert set(beam_nodes) <= set(runners), runners
  assert set(runners.values()) == {'PortableRunner'}, runners
  record = read_run_of(root, result)
  assert all(record.execution_states.get(node) == ['COMPLETE'] for node in beam_nodes), record.execution_states
  assert os.path.isdir(portable_staging(root)), 'Beam staged no job: the PortableRunner did not run'


ARTIFACTS = os.path.join(REPO, 'test-artifacts')  # screenshots the browser tests leave for a reviewer


def open_in_browser(html_path: str, screenshot_name: str) -> dict:
  """Opens a local HTML file in headless Chromium with the network off (`bench/browser.py`) and saves a screenshot
  in test-artifacts/; fails, naming the install command, when Chromium is missing (installs nothing)."""
  import pytest  # pylint: disable=g-import-not-at-top
  from bench import browser  # pylint: disable=g-import-not-at-top
  if browser.find_chromium() is None:
    pytest.fail(f'Chromium is not installed; install it with: {browser.INSTALL_CHROMIUM}')
  os.makedirs(ARTIFACTS, exist_ok=True)
  screenshot = os.path.join(ARTIFACTS, screenshot_name)
  seen = browser.open_offline(html_path, screenshot)
  seen['screenshot'] = screenshot
  return seen
