"""Tier 1: the CLI's progress lines, from the orchestrator's and the Trainer's log records."""
import io
import logging

from cli.console import ProgressPrinter
from trainer.common import EPOCH_MESSAGE


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
