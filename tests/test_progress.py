"""Tier 1: the CLI's progress lines, from the orchestrator's and the Trainer's log records."""
import io
import logging
import pathlib
import subprocess
import sys

from cli.console import ProgressPrinter
from trainer.common import EPOCH_MESSAGE

REPO = pathlib.Path(__file__).resolve().parent.parent


class _Console(io.StringIO):

  def __init__(self, tty: bool):
    super().__init__()
    self._tty = tty

  def isatty(self):
    return self._tty


def _feed(printer, records):
  for message, args in records:
    printer.emit(logging.LogRecord('absl', logging.INFO, __file__, 1, message, args, None))


RECORDS = [('Component %s is running.', ('Transform',)), ('A cached execution %d is used.', (3,)),
           ('Component %s is finished.', ('Transform',)), ('Component %s is running.', ('Trainer',)),
           (EPOCH_MESSAGE, (1, 2, 0.5, 'auc', 0.75, 70.0)), (EPOCH_MESSAGE, (2, 2, 0.25, 'auc', 0.875, 0.0)),
           ('Component %s is finished.', ('Trainer',))]


def test_pipe_gets_one_line_per_epoch():
  console = _Console(tty=False)
  _feed(ProgressPrinter(console, total=2), RECORDS)
  lines = console.getvalue().splitlines()
  assert lines[0].startswith('  [ 1/2] Transform') and 'cached' in lines[0]
  assert lines[1] == '  [ 2/2] Trainer                    epoch 1/2  loss 0.5000  eval auc 0.7500  1m10s left'
  assert lines[2] == '  [ 2/2] Trainer                    epoch 2/2  loss 0.2500  eval auc 0.8750  0s left'
  assert lines[3].startswith('  [ 2/2] Trainer                    done ') and len(lines) == 4


def test_terminal_line_is_updated_in_place():
  console = _Console(tty=True)
  _feed(ProgressPrinter(console, total=2), RECORDS)
  trainer = console.getvalue().split('\n')[1]
  assert trainer.count('\r\033[K') == 3 and trainer.endswith('s')  # two epoch updates, then 'done'
  assert trainer.split('\r\033[K')[-1].startswith('  [ 2/2] Trainer                    done ')


def test_a_run_leaves_absl_logging_as_it_found_it(tmp_path):
  # `run all` runs the next task's recovery on the console after the first task's log file closed: an INFO line
  # of ML Metadata ("MetadataStore with DB connection initialized") showed up between the tasks' outputs.
  code = ('import logging\nfrom absl import logging as absl_logging\nfrom cli import console\n'
          'logging.basicConfig()\n'
          f'with console.console_and_log({str(tmp_path / "run.log")!r}):\n  absl_logging.info("inside the run")\n'
          'absl_logging.info("after the run")\nabsl_logging.warning("a warning")\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  assert 'after the run' not in result.stderr and 'a warning' in result.stderr
  assert 'inside the run' in (tmp_path / 'run.log').read_text()
