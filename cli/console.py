"""What every command shares on the console: exit statuses, user errors, one line per failure, tables, and a run's
progress lines (one per component, the full log in a file)."""
import contextlib
import datetime
import logging
import os
import re
import secrets
import sys
import tempfile
import time
import traceback
from typing import Optional, Sequence

from core import data_contract
from core.layout import RootLayout
from core.layout import error_log_name

EXIT_FAILED, EXIT_USER_ERROR = 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
EXIT_BUSY = 75  # another run of the task holds the lock: try again later (sysexits' EX_TEMPFAIL)


class UserError(Exception):
  """A problem the user can fix; printed without a traceback, exit status 2."""


def user_message(error: BaseException) -> Optional[str]:
  """The message of a UserError, or of a DataContractError anywhere in the exception chain; None otherwise."""
  if isinstance(error, UserError):
    return str(error)
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, data_contract.DataContractError):
      return str(error)
    error = error.__cause__ or error.__context__
  return None


def cause(error: BaseException) -> str:
  """`Type: first line of the message` (at most 300 characters of it): one console line for any error."""
  line = (str(error).splitlines() or [''])[0]
  return f'{type(error).__name__}: ' + (line if len(line) <= 300 else line[:300] + ' ...')


def unexpected_failure(error: BaseException, root: Optional[str]) -> int:
  """A failure nobody foresaw: one line of cause on the console, the traceback in a log file, exit 1. A user
  never sees a traceback."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S')
  text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
  name = error_log_name(stamp, secrets.token_hex(2))
  log_path = None
  for directory in ([RootLayout.at(root).logs] if root else []) + [tempfile.gettempdir()]:
    try:
      os.makedirs(directory, exist_ok=True)
      log_path = os.path.join(directory, name)
      with open(log_path, 'w', encoding='utf-8') as f:
        f.write(text)
      break
    except OSError:
      log_path = None
  print(f'error: unexpected {cause(error)}\n  '
        + (f'traceback: {log_path}' if log_path else 'the traceback could not be saved (no writable directory for '
           'its log)'), file=sys.stderr)
  return EXIT_FAILED


def print_table(rows: Sequence[Sequence[str]]) -> None:
  """Rows of strings in left-aligned columns, the first row being the header."""
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  for row in rows:
    print('  '.join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


# ----------------------------------------------------------------------------------------------------
# A run's console: one progress line per component, everything else in the run's log file.

# The Trainer's per-epoch record (trainer.common.EPOCH_MESSAGE), as the progress line shows it.
_EPOCH_RECORD = re.compile(r'^epoch %d/%d: ')
# The Tuner's per-trial record (trainer.tuning.TRIAL_MESSAGE).
_TRIAL_RECORD = re.compile(r'^trial %d/%d: ')


def duration(seconds: float) -> str:
  seconds = int(round(seconds))
  return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


class ProgressPrinter(logging.Handler):
  """Turns the orchestrator's 'Component X is running/finished' records into one line per component, and the
  Trainer's epoch records into live progress: updated in place on a terminal, one line per epoch otherwise."""

  def __init__(self, console, total: int):
    super().__init__(logging.INFO)
    self._console, self._total = console, total
    self._interactive = console.isatty()
    self._count, self._started, self._cached, self._node = 0, 0.0, False, ''
    self._line_open = False  # the component's line is written without its end yet
    self._running = False  # a component started and has not finished

  def _prefix(self) -> str:
    return f'  [{self._count:2d}/{self._total}] {self._node:<26} '

  def _show(self, text: str, final: bool) -> None:
    if self._interactive:
      self._console.write('\r\033[K' + self._prefix() + text + ('\n' if final else ''))
    else:  # finish the open line, or start a new one with the prefix
      self._console.write((text if self._line_open else self._prefix() + text) + '\n')
    self._line_open = not final and self._interactive
    self._console.flush()

  def emit(self, record: logging.LogRecord) -> None:
    message = record.msg
    if message == 'Component %s is running.':
      self._count += 1
      self._started, self._cached, self._node = time.time(), False, record.args[0]
      self._console.write(self._prefix())
      self._console.flush()
      self._line_open = self._running = True
    elif message == 'A cached execution %d is used.':
      self._cached = True
    elif isinstance(message, str) and _EPOCH_RECORD.match(message):
      if self._node == 'Tuner' and not self._interactive:
        return  # a line per trial is enough in a log file; a terminal still sees each trial's epochs in place
      epoch, epochs, loss, metric, value, left = record.args
      self._show(f'epoch {epoch}/{epochs}  loss {loss:.4f}  eval {metric} {value:.4f}  '
                 f'{duration(left)} left', final=False)
    elif isinstance(message, str) and _TRIAL_RECORD.match(message):
      trial, trials, metric, value, best = record.args
      self._show(f'trial {trial}/{trials} done  eval {metric} {value:.4f}  best {best:.4f}', final=False)
    elif message == 'Component %s is finished.':
      status = 'cached' if self._cached else 'done'
      self._show(f'{status:<7}{time.time() - self._started:6.1f}s', final=True)
      self._running = False

  def failed(self) -> None:
    """Marks the running component's line; a failure between components leaves the finished lines alone."""
    if self._running:
      self._show('FAILED', final=True)
      self._running = False


@contextlib.contextmanager
def console_and_log(log_path: str):
  """Sends fd 1/2 (TF, Beam, absl, warnings) to `log_path`, a new file; yields (stdout, stderr) of the console."""
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # one file per run id, never shared
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(1), 'w', buffering=1)
  console_err = os.fdopen(os.dup(2), 'w', buffering=1)
  os.dup2(log_fd, 1)
  os.dup2(log_fd, 2)
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  file_handler = logging.StreamHandler(sys.stderr)
  file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  logging.getLogger().addHandler(file_handler)
  logging.captureWarnings(True)
  try:
    yield console, console_err
  finally:
    # Back as it was: the next run of `run all` logs its recovery to the console before its log file opens.
    absl_logging.set_verbosity(verbosity)
    logging.getLogger().removeHandler(file_handler)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved_out, 1)
    os.dup2(saved_err, 2)
    for fd in (saved_out, saved_err, log_fd):
      os.close(fd)
    console.close()
    console_err.close()
