"""Test set-up shared by every tier.

TF_USE_LEGACY_KERAS must be set before TensorFlow is imported (docs/design.md §7), and the CPU is split into two
logical devices before TensorFlow initialises, so the multi-replica MirroredStrategy path runs on CPU.
"""
import os
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
  return subprocess.run([sys.executable, '-m', 'pipeline.cli', *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)


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
