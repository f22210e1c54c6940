"""What the bench scripts share: the layout of the `--data` directory, running `tfx-lstm run` in a fresh process
and reading its console output (run id, per-component times), reading that run back from ML Metadata, and
timing training epochs.

No TensorFlow import at module level: `--help` and a missing `--data` come back at once.
"""
import argparse
import dataclasses
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / 'bench' / 'results'

# The full public datasets, as paths relative to --data (bench/README.md, "Data", says where each comes from).
BEIJING_CSV = 'timeseries/beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv'
SST2_TRAIN, SST2_DEV = 'sentiment/sst2/train.tsv', 'sentiment/sst2/dev.tsv'
FRA_ENG_TXT = 'translation/fra-eng/fra.txt'


def add_data_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--data', type=pathlib.Path, metavar='DIR',
                      help='directory holding the full public datasets, laid out as bench/README.md ("Data") '
                      'describes (required unless the script only re-scores an earlier run)')


def require_data(data: Optional[pathlib.Path], *relative: str) -> List[pathlib.Path]:
  """The paths of `relative` under `data`; exits with status 2 and a message naming what is missing."""
  if data is None:
    print('error: --data DIR is required: the directory holding the full public datasets; bench/README.md '
          '("Data") names their sources and the layout expected under it.', file=sys.stderr)
    raise SystemExit(2)
  paths = [data / r for r in relative]
  missing = [str(p) for p in paths if not p.is_file()]
  if missing:
    print(f'error: {", ".join(missing)} not found.\n  --data must be the directory holding the full public '
          'datasets; bench/README.md ("Data") names their sources and the layout expected under it.',
          file=sys.stderr)
    raise SystemExit(2)
  return paths


def load_make_samples():
  """data/make_samples.py (not a package module): its Beijing reshaping is the one the bundled sample went through."""
  spec = importlib.util.spec_from_file_location('make_samples', REPO / 'data' / 'make_samples.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


# ----------------------------------------------------------------------------------------------------
# `tfx-lstm run` in a fresh process, and what its console output says.

_RUN_ID = re.compile(r'^\s+run (\S+)\s*$')
# One line per component, e.g. `  [ 6/12] Transform                  done     17.6s` (or `cached`).
_COMPONENT = re.compile(r'^\s*\[\s*(\d+)/\s*(\d+)\]\s+(\S+)\s+(done|cached)\s+([0-9.]+)s\s*$')
_FINISHED = re.compile(r'^pipeline finished in ([0-9.]+)s')


@dataclasses.dataclass
class PipelineRun:
  task: str
  run_id: Optional[str]  # as the CLI printed it
  seconds: float  # wall time of the whole `tfx-lstm run` process (start-up and summary included)
  pipeline_seconds: Optional[float]  # the CLI's own "pipeline finished in N s"
  components: List[Dict[str, object]]  # {'index', 'name', 'status' (done/cached), 'seconds'}, in run order
  output: str  # the console output


def parse_cli_output(text: str) -> dict:
  """Run id, per-component lines and the pipeline time from `tfx-lstm run`'s console output."""
  run_id, components, pipeline_seconds = None, [], None
  for line in text.splitlines():
    if run_id is None and _RUN_ID.match(line):
      run_id = _RUN_ID.match(line).group(1)
    match = _COMPONENT.match(line)
    if match:
      index, _, name, status, seconds = match.groups()
      components.append({'index': int(index), 'name': name, 'status': status, 'seconds': float(seconds)})
    match = _FINISHED.match(line)
    if match:
      pipeline_seconds = float(match.group(1))
  return {'run_id': run_id, 'components': components, 'pipeline_seconds': pipeline_seconds}


def run_pipeline(task: str, flags: Sequence[str], beam_args: Sequence[str] = ()) -> PipelineRun:
  """Runs `tfx-lstm run TASK FLAGS` (each of `beam_args` as a --beam-arg) in a fresh process, echoing its
  console output; exits if the run fails."""
  flags = [*flags, *(f'--beam-arg={arg}' for arg in beam_args)]
  print(f'tfx-lstm run {task}', ' '.join(flags), flush=True)
  started = time.time()
  process = subprocess.Popen([sys.executable, '-m', 'cli', 'run', task, *flags], cwd=REPO,
                             stdout=subprocess.PIPE, text=True, bufsize=1)
  lines = []
  for line in process.stdout:
    sys.stdout.write(line)
    sys.stdout.flush()
    lines.append(line)
  status = process.wait()
  seconds = time.time() - started
  if status:
    raise SystemExit(f'tfx-lstm run {task} failed (exit status {status})')
  parsed = parse_cli_output(''.join(lines))
  return PipelineRun(task, parsed['run_id'], seconds, parsed['pipeline_seconds'], parsed['components'],
                     ''.join(lines))


def read_run(root: pathlib.Path, task: str, run_id: Optional[str] = None):
  """The RunRecord of `run_id` (as `tfx-lstm run` printed it), or of the task's latest run under `root`."""
  from core.layout import RootLayout  # pylint: disable=g-import-not-at-top
  from core.names import pipeline_name  # pylint: disable=g-import-not-at-top
  from records import run_record  # pylint: disable=g-import-not-at-top
  metadata_path = RootLayout.at(str(root)).metadata_path
  if not run_id:
    run_id = run_record.latest_run_id(metadata_path, pipeline_name(task))
  record = run_record.read_run(metadata_path, run_id) if run_id else None
  if record is None:
    raise SystemExit(f'no {task} run {run_id or ""} in {metadata_path}')
  return record


def pushed_model_dir(run) -> Optional[str]:
  """Where the run's Pusher put the model, or None when it pushed nothing."""
  from records import run_record  # pylint: disable=g-import-not-at-top
  pushed = run.output('PushedModel')
  if not run_record.artifact_property(pushed, 'pushed'):
    return None
  return run_record.artifact_property(pushed, 'pushed_destination')


def require_pushed(run) -> str:
  model_dir = pushed_model_dir(run)
  if not model_dir:
    raise SystemExit(f'run {run.run_id} pushed no model (see its summary above)')
  return model_dir


# ----------------------------------------------------------------------------------------------------
# Training throughput.

class EpochTimer:
  """Keras callback recording each epoch's wall time."""

  def __init__(self):
    from trainer.common import keras  # pylint: disable=g-import-not-at-top
    outer = self

    class _Callback(keras.callbacks.Callback):

      def on_epoch_begin(self, epoch, logs=None):
        outer.start = time.perf_counter()

      def on_epoch_end(self, epoch, logs=None):
        outer.times.append(time.perf_counter() - outer.start)

    self.times, self.start, self.callback = [], 0.0, _Callback()

  def windows_per_second(self, windows: int) -> float:
    """Examples per second over the epochs after the first (tracing, cache filling), or over the one epoch."""
    steady = self.times[1:] or self.times
    return windows * len(steady) / sum(steady)
