"""Retrains one task on a cron schedule, locally, for as long as the process lives (`tfx-lstm schedule`).

At each cron time (evaluated in UTC) the scheduler asks which data is newest (`data_state()`, a string such as
'span 3: <fingerprint>') and starts a retrain only when that differs from the data of the last *attempted* run,
whatever that attempt's outcome: a run that failed is not repeated on the same broken data at every tick, while
new or changed data runs again. With a state file, that memory survives a restart of the scheduler.

Runs are synchronous: `run()` returns when the retrain is over, and only then is the next cron time worked out.
So one scheduler never has two retrains going: they would compete for the same cores, pipeline root and ML
Metadata store, and a slow run would pile up a queue behind it. Cron times that pass during a long run are not
queued: they are logged as missed, and the scheduler waits for the next cron time still in the future.

Between processes the per-task run lock (orchestration/run_lock.py) gives the same guarantee: every run of a task on
a root, scheduled or typed by hand, takes that task's lock, and a run that finds it held is refused at once with
exit status 75 (EX_TEMPFAIL). The scheduler logs such a tick as skipped-busy and does not count its data as
attempted, so a second scheduler or a manual `tfx-lstm run` on the same root makes it skip a tick (never overlap,
never queue), and the next tick tries the same data again.

After `install_signal_handlers()`, SIGTERM and SIGINT stop the scheduler: at once while it waits, and after the
current run when one is going, so a stop never cuts a retrain short. A second signal acts as it would without the
scheduler (it interrupts the run), for when the run must not be waited for.

The scheduler is driven from one thread; `request_stop()` is the one method that may be called from any thread or
from a signal handler.
"""
import contextlib
import dataclasses
import datetime
import json
import os
import select
import signal
import tempfile
import threading
import time
import weakref
from typing import Callable, Iterator, Optional

from croniter import CroniterBadDateError, croniter

OUTCOMES = ('ran', 'failed', 'skipped-no-new-data', 'skipped-busy')
EXIT_LOCK_HELD = 75  # run()'s status when another run of the task holds the task's lock (sysexits' EX_TEMPFAIL)
CRON_FIELDS = 'minute hour day-of-month month day-of-week'
_MISSED_COUNT_CAP = 10_000  # counting missed cron times one by one; past this the exact number says nothing more
# Longest single wait: the clock is read again after it, so a clock change or a suspend (during which a timed wait's
# monotonic clock stands still) delays a tick by a minute at most.
_MAX_WAIT_SECONDS = 60.0


def utc_iso(t: float) -> str:
  """Unix time as `2024-01-02T03:00:00Z`."""
  return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _error_text(e: BaseException) -> str:
  return f'{type(e).__name__}: {e}'


@dataclasses.dataclass(frozen=True)
class Tick:
  """One scheduling decision and what came of it.

  Attributes:
    when: Unix time of the tick.
    outcome: One of OUTCOMES.
    detail: What happened, for people: the run's status and duration, or why nothing ran.
    status: run()'s exit status; None when run() was not called or raised.
    seconds: How long the tick took (mostly the run).
    data_state: What data_state() returned; '' when it raised.
  """
  when: float
  outcome: str
  detail: str
  status: Optional[int] = None
  seconds: float = 0.0
  data_state: str = ''

  def __str__(self) -> str:
    data = f'data {self.data_state!r}' if self.data_state else 'data unknown'
    return f'{utc_iso(self.when)} {self.outcome} {data}: {self.detail}'


@dataclasses.dataclass(frozen=True)
class _Attempt:
  """The last run attempted: the data it ran on, when, and how it ended (status None: run() raised)."""
  data_state: str
  when: float
  status: Optional[int]

  def describe(self) -> str:
    ending = f'status {self.status}' if self.status is not None else 'the run raised an exception'
    return f'the attempt at {utc_iso(self.when)} ({ending})'


class RetrainScheduler:
  """Runs `run()` at the cron times of `cron` (UTC) when `data_state()` has changed since the last attempt.

  Args:
    cron: A 5-field cron expression (minute hour day-of-month month day-of-week), e.g. "0 3 * * *".
    data_state: Returns a string naming the newest data; a run happens only when it differs from the last attempt's.
    run: Runs one retrain synchronously and returns its exit status: 0 success, 75 (EXIT_LOCK_HELD) refused because
      another run of the task holds its lock (the data is retried at the next tick), anything else a failed run
      (the same data is not retried; changed data is).
    log: Takes each log line (one per tick, plus start-up, missed-tick and stop lines).
    clock: Current Unix time.
    wait: Blocks up to `seconds` and returns True when a stop was requested. The default wakes at once on
      request_stop(), from a signal handler too.
    state_file: A JSON file that keeps the last attempt, so a restarted scheduler does not retrain on data it
      already tried. Written atomically.

  Raises:
    ValueError: `cron` is not a valid 5-field expression, or `state_file` cannot be read.
  """

  def __init__(self, cron: str, data_state: Callable[[], str], run: Callable[[], int], *,
               log: Callable[[str], None], clock: Callable[[], float] = time.time,
               wait: Optional[Callable[[float], bool]] = None, state_file: Optional[str] = None):
    self.cron = cron
    self._check_cron(cron)
    self._data_state, self._run, self._log, self._clock = data_state, run, log, clock
    self._state_file = state_file
    self._stop_requested = False
    if wait is None:
      # A self-pipe, not a threading.Event: Event.set() takes a lock that the interrupted main thread may hold
      # inside Event.wait(), so calling it from a signal handler can deadlock. os.write takes no lock.
      self._wake_read, self._wake_write = os.pipe()
      os.set_blocking(self._wake_write, False)
      weakref.finalize(self, _close_fds, self._wake_read, self._wake_write)
      wait = self._wait_for_stop
    else:
      self._wake_write = None
    self._wait = wait
    self._last = self._load_state() if state_file else None
    self._previous_handlers: dict = {}

  # ----------------------------------------------------------------------------------------------------
  # Cron times.

  @staticmethod
  def _check_cron(cron: str) -> None:
    expected = f'expected 5 fields ({CRON_FIELDS}) evaluated in UTC, e.g. "0 3 * * *" for 03:00 every day'
    fields = cron.split() if isinstance(cron, str) else []
    if len(fields) != 5:
      # croniter also takes seconds and year fields and @-names; the CLI documents plain 5-field cron only.
      raise ValueError(f'invalid cron expression {cron!r}: {len(fields)} field(s), {expected}')
    try:
      # One real step, so that dates that never occur ("0 3 30 2 *") are refused now rather than at the first wait.
      croniter(cron, datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)).get_next(float)
    except CroniterBadDateError:
      raise ValueError(f'invalid cron expression {cron!r}: it names no date that ever occurs; {expected}') from None
    except Exception as e:  # pylint: disable=broad-except  # croniter's own are ValueErrors, but not all it raises
      raise ValueError(f'invalid cron expression {cron!r} ({e}): {expected}') from None

  def next_fire(self, after: float) -> float:
    """The first cron time strictly after Unix time `after`."""
    start = datetime.datetime.fromtimestamp(after, datetime.timezone.utc)
    return croniter(self.cron, start).get_next(float)

  def _count_fires(self, after: float, until: float) -> int:
    """How many cron times fall in (after, until], up to _MISSED_COUNT_CAP."""
    count, t = 0, after
    while count < _MISSED_COUNT_CAP:
      t = self.next_fire(t)
      if t > until:
        break
      count += 1
    return count

  # ----------------------------------------------------------------------------------------------------
  # The last attempt, in memory and in the state file.

  def _load_state(self) -> Optional[_Attempt]:
    try:
      with open(self._state_file) as f:
        saved = json.load(f)
    except FileNotFoundError:
      return None
    except (OSError, ValueError) as e:
      raise ValueError(f'cannot read the scheduler state file {self._state_file}: {e}. Delete it to let the next '
                       'tick retrain on the current data.') from None
    if not isinstance(saved, dict) or not isinstance(saved.get('data_state'), str):
      raise ValueError(f'the scheduler state file {self._state_file} has no "data_state" string. Delete it to let '
                       'the next tick retrain on the current data.')
    return _Attempt(saved['data_state'], float(saved.get('attempted_unix', 0.0)), saved.get('status'))

  def _remember(self, attempt: _Attempt) -> str:
    """Keeps the attempt; returns '' or a note saying the state file could not be written."""
    self._last = attempt
    if not self._state_file:
      return ''
    saved = {'data_state': attempt.data_state, 'attempted_at': utc_iso(attempt.when),
             'attempted_unix': attempt.when, 'status': attempt.status}
    directory = os.path.dirname(os.path.abspath(self._state_file))
    try:
      os.makedirs(directory, exist_ok=True)
      # Same directory as the target, so os.replace is a rename: readers see the old file or the new, never half.
      fd, temp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(self._state_file) + '.', suffix='.tmp')
      try:
        with os.fdopen(fd, 'w') as f:
          json.dump(saved, f, indent=2)
          f.flush()
          os.fsync(f.fileno())
        os.replace(temp, self._state_file)
      except BaseException:
        with contextlib.suppress(OSError):
          os.remove(temp)
        raise
    except OSError as e:
      # The tick's outcome stands; only a restart would forget this attempt.
      return f' (could not save {self._state_file}: {e})'
    return ''

  # ----------------------------------------------------------------------------------------------------
  # One tick.

  def tick(self, now: float) -> Tick:
    """Reads the data state and runs a retrain when it differs from the last attempt's. Never raises for errors
    in data_state() or run(): those become a 'failed' tick.

    Args:
      now: Unix time of the tick (the cron time being served).

    Returns:
      The tick's outcome; serve() logs it, tick() itself logs nothing (but the stop notice during a run).
    """
    started = self._clock()
    try:
      state = str(self._data_state())
    except Exception as e:  # pylint: disable=broad-except
      # Nothing is marked attempted: the data is unknown, so the next tick looks again.
      return Tick(now, 'failed', f'data_state raised {_error_text(e)}; the next tick looks again',
                  seconds=self._clock() - started)
    if self._last is not None and self._last.data_state == state:
      return Tick(now, 'skipped-no-new-data', f'unchanged since {self._last.describe()}',
                  seconds=self._clock() - started, data_state=state)

    run_started = self._clock()
    try:
      with self._stop_notice_during_run():
        status = self._run()
    except Exception as e:  # pylint: disable=broad-except
      seconds = self._clock() - run_started
      note = self._remember(_Attempt(state, now, None))
      return Tick(now, 'failed', f'run raised {_error_text(e)} after {seconds:.1f} s; this data is not retried, '
                  f'new data is{note}', seconds=seconds, data_state=state)
    seconds = self._clock() - run_started
    if status == EXIT_LOCK_HELD:
      return Tick(now, 'skipped-busy', f'status {status} in {seconds:.1f} s: another run of this task holds its '
                  'lock; the next tick retries this data', status, seconds, state)
    note = self._remember(_Attempt(state, now, status))
    if status == 0:
      return Tick(now, 'ran', f'status 0 in {seconds:.1f} s{note}', status, seconds, state)
    return Tick(now, 'failed', f'status {status} in {seconds:.1f} s; this data is not retried, new data is{note}',
                status, seconds, state)

  @contextlib.contextmanager
  def _stop_notice_during_run(self) -> Iterator[None]:
    """Logs 'stopping after the current run' as soon as a stop is requested during the run. From a helper thread:
    a signal handler that wrote to the log could re-enter a write the run was doing on the same stream."""
    done = threading.Event()

    def watch() -> None:
      while not done.wait(0.2):
        if self._stop_requested:
          break
      if self._stop_requested:  # also when it came in the run's last moments
        self._log('stop requested: stopping after the current run')

    watcher = threading.Thread(target=watch, name='scheduler-stop-notice', daemon=True)
    watcher.start()
    try:
      yield
    finally:
      done.set()
      watcher.join()  # so the notice, if any, comes before the tick's line

  # ----------------------------------------------------------------------------------------------------
  # The loop and stopping it.

  def serve(self, max_ticks: Optional[int] = None) -> int:
    """Waits for each cron time and ticks at it, until a stop is requested (or `max_ticks` ticks were made).

    Args:
      max_ticks: Stop after this many ticks (missed cron times do not count); None: until stopped.

    Returns:
      0: stopped cleanly.
    """
    fire = self.next_fire(self._clock())
    self._log(f'scheduler started: cron {self.cron!r} (UTC), next fire {utc_iso(fire)}')
    if self._last is not None:
      self._log(f'last attempted data {self._last.data_state!r}: {self._last.describe()}')
    ticks = 0
    while (max_ticks is None or ticks < max_ticks) and not self._stop_requested:
      if not self._sleep_until(fire):
        break
      tick = self.tick(self._clock())
      ticks += 1
      self._log(str(tick))
      now = self._clock()
      missed = self._count_fires(fire, now)
      if missed:
        count = f'{missed}' if missed < _MISSED_COUNT_CAP else f'more than {_MISSED_COUNT_CAP}'
        # Not queued: catching up would run on the same data back to back.
        run_called = tick.outcome != 'skipped-no-new-data' and tick.data_state  # '' : data_state() raised
        why = 'while a run was going' if run_called else 'because the scheduler woke late (clock change or suspend)'
        self._log(f'{count} tick(s) missed {why}; next fire {utc_iso(self.next_fire(now))}')
      fire = self.next_fire(now)
    self._log('scheduler stopped')
    return 0

  def _sleep_until(self, fire: float) -> bool:
    """Waits until the clock reaches `fire`; False when a stop was requested first."""
    while True:
      remaining = fire - self._clock()
      if remaining <= 0:
        return not self._stop_requested
      if self._wait(min(remaining, _MAX_WAIT_SECONDS)) or self._stop_requested:
        return False

  def _wait_for_stop(self, seconds: float) -> bool:
    # A byte in the pipe (request_stop) ends the wait; it stays there, so later waits end at once too.
    if not self._stop_requested:
      select.select([self._wake_read], [], [], seconds)
    return self._stop_requested

  def request_stop(self) -> None:
    """Asks serve() to return: at once while it waits, after the current run when one is going. Safe to call from
    any thread and from a signal handler."""
    self._stop_requested = True
    if self._wake_write is not None:
      with contextlib.suppress(BlockingIOError):  # the pipe is full of earlier requests: already awake
        os.write(self._wake_write, b'x')

  def install_signal_handlers(self) -> None:
    """Makes SIGTERM and SIGINT request a stop. The first one does; after it both signals act as they did before
    (a second Ctrl-C interrupts the run). Call from the main thread."""
    def handle(signum, frame) -> None:  # pylint: disable=unused-argument
      self.request_stop()
      for sig, previous in self._previous_handlers.items():
        signal.signal(sig, previous)

    for sig in (signal.SIGTERM, signal.SIGINT):
      previous = signal.signal(sig, handle)
      # None: a handler not set from Python; the default action is the closest to it.
      self._previous_handlers[sig] = previous if previous is not None else signal.SIG_DFL


def _close_fds(*fds: int) -> None:
  for fd in fds:
    with contextlib.suppress(OSError):
      os.close(fd)
