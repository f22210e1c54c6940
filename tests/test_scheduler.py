"""Tier 1: the retraining scheduler, on a fake clock, plus real SIGTERMs to a real scheduler process."""
import datetime
import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import List, Optional

import pytest

from orchestration.scheduler import EXIT_LOCK_HELD
from orchestration.scheduler import RetrainScheduler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def at(hour: int, minute: int) -> float:
  """Unix time of 2024-01-01 HH:MM UTC."""
  return datetime.datetime(2024, 1, 1, hour, minute, tzinfo=datetime.timezone.utc).timestamp()


class FakeClock:
  """Unix time that moves only when the scheduler waits (or a fake run takes time)."""

  def __init__(self, now: float):
    self.now = now
    self.busy = None  # the FakeRun, so a wait during a run can be caught

  def __call__(self) -> float:
    return self.now

  def wait(self, seconds: float) -> bool:
    assert seconds > 0
    assert self.busy is None or self.busy.in_flight == 0, 'the scheduler waited while a run was going'
    self.now += seconds
    return False


class FakeRun:
  """A retrain that records when it ran, takes `takes` seconds of fake time and returns `statuses` in turn
  (0 once they are used up; an exception in the list is raised)."""

  def __init__(self, clock: FakeClock, statuses=(), takes: float = 0.0):
    self.clock, self.statuses, self.takes = clock, list(statuses), takes
    self.calls: List[float] = []
    self.in_flight = self.max_in_flight = 0
    clock.busy = self

  def __call__(self) -> int:
    self.in_flight += 1
    self.max_in_flight = max(self.max_in_flight, self.in_flight)
    try:
      self.calls.append(self.clock())
      self.clock.now += self.takes
      result = self.statuses.pop(0) if self.statuses else 0
      if isinstance(result, BaseException):
        raise result
      return result
    finally:
      self.in_flight -= 1


class DataStates:
  """data_state(): the given states in turn, the last one for ever after (an exception in the list is raised)."""

  def __init__(self, *states):
    self.states = list(states)

  def __call__(self) -> str:
    state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
    if isinstance(state, BaseException):
      raise state
    return state


def make(cron: str = '*/10 * * * *', states=None, statuses=(), takes: float = 0.0, start: float = at(0, 3),
         state_file: Optional[str] = None):
  clock = FakeClock(start)
  run = FakeRun(clock, statuses, takes)
  logs: List[str] = []
  data_state = states if states is not None else (lambda: f'span at {clock.now}')  # new data at every tick
  scheduler = RetrainScheduler(cron, data_state, run, log=logs.append, clock=clock, wait=clock.wait,
                               state_file=state_file)
  return scheduler, clock, run, logs


def tick_lines(logs: List[str]) -> List[str]:
  return [line for line in logs if re.match(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ', line)]


def outcomes(logs: List[str]) -> List[str]:
  return [line.split()[1] for line in tick_lines(logs)]


def test_fires_at_the_cron_times_in_utc(monkeypatch):
  scheduler, _, run, logs = make('*/10 * * * *', start=at(0, 3))
  assert scheduler.serve(max_ticks=3) == 0
  assert run.calls == [at(0, 10), at(0, 20), at(0, 30)]
  assert logs[0] == "scheduler started: cron '*/10 * * * *' (UTC), next fire 2024-01-01T00:10:00Z"
  assert [line.split(' data ')[0] for line in tick_lines(logs)] == [
      '2024-01-01T00:10:00Z ran', '2024-01-01T00:20:00Z ran', '2024-01-01T00:30:00Z ran']
  assert tick_lines(logs)[0] == f"2024-01-01T00:10:00Z ran data 'span at {at(0, 10)}': status 0 in 0.0 s"
  assert logs[-1] == 'scheduler stopped'
  # Strictly after; and UTC whatever the machine's time zone.
  assert scheduler.next_fire(at(0, 10)) == at(0, 20)
  assert scheduler.next_fire(at(0, 10) - 0.5) == at(0, 10)
  monkeypatch.setenv('TZ', 'Asia/Kolkata')
  time.tzset()
  try:
    assert make('0 3 * * *')[0].next_fire(at(0, 3)) == at(3, 0)
  finally:
    monkeypatch.undo()
    time.tzset()


def test_skips_unchanged_data_and_runs_when_it_changes():
  scheduler, _, run, logs = make(states=DataStates('span 1', 'span 1', 'span 2', 'span 2'))
  scheduler.serve(max_ticks=4)
  assert outcomes(logs) == ['ran', 'skipped-no-new-data', 'ran', 'skipped-no-new-data']
  assert run.calls == [at(0, 10), at(0, 30)]
  assert tick_lines(logs)[1] == ("2024-01-01T00:20:00Z skipped-no-new-data data 'span 1': unchanged since the "
                                 'attempt at 2024-01-01T00:10:00Z (status 0)')


def test_never_overlaps_and_drops_the_cron_times_a_long_run_covered():
  # The first run takes 25 minutes: 00:10 -> 00:35, over the 00:20 and 00:30 cron times.
  scheduler, _, run, logs = make('*/10 * * * *', takes=25 * 60, start=at(0, 3))
  scheduler.serve(max_ticks=2)
  assert run.max_in_flight == 1
  assert run.calls == [at(0, 10), at(0, 40)]  # no catch-up runs at 00:35
  assert tick_lines(logs)[0].endswith('status 0 in 1500.0 s')
  assert '2 tick(s) missed while a run was going; next fire 2024-01-01T00:40:00Z' in logs
  assert outcomes(logs) == ['ran', 'ran']


def test_keeps_firing_after_failed_and_raising_runs():
  scheduler, _, run, logs = make(states=DataStates('A', 'A', 'B', 'B', 'C'),
                                 statuses=[1, RuntimeError('out of memory'), 0])
  assert scheduler.serve(max_ticks=5) == 0
  assert outcomes(logs) == ['failed', 'skipped-no-new-data', 'failed', 'skipped-no-new-data', 'ran']
  assert run.calls == [at(0, 10), at(0, 30), at(0, 50)]
  lines = tick_lines(logs)
  assert "failed data 'A': status 1 in 0.0 s; this data is not retried, new data is" in lines[0]
  assert 'unchanged since the attempt at 2024-01-01T00:10:00Z (status 1)' in lines[1]
  assert "failed data 'B': run raised RuntimeError: out of memory after 0.0 s" in lines[2]
  assert '(the run raised an exception)' in lines[3]


def test_a_failing_data_state_is_logged_and_looked_at_again():
  scheduler, _, run, logs = make(states=DataStates(OSError('data dir is gone'), 'A'))
  scheduler.serve(max_ticks=2)
  assert outcomes(logs) == ['failed', 'ran']
  assert tick_lines(logs)[0] == ('2024-01-01T00:10:00Z failed data unknown: data_state raised OSError: data dir is '
                                 'gone; the next tick looks again')
  assert run.calls == [at(0, 20)]


def test_lock_held_is_skipped_busy_and_the_same_data_is_retried():
  scheduler, _, run, logs = make(states=DataStates('A'), statuses=[EXIT_LOCK_HELD, 0])
  scheduler.serve(max_ticks=3)
  assert outcomes(logs) == ['skipped-busy', 'ran', 'skipped-no-new-data']
  assert run.calls == [at(0, 10), at(0, 20)]
  assert 'another run of this task holds its lock; the next tick retries this data' in tick_lines(logs)[0]


def test_state_file_carries_the_last_attempt_across_restarts(tmp_path):
  state_file = str(tmp_path / 'schedule' / 'forecast.json')  # its folder is made
  first, _, _, _ = make(states=DataStates('A'), statuses=[1], state_file=state_file)
  assert first.tick(at(0, 10)).outcome == 'failed'
  with open(state_file) as f:
    assert json.load(f) == {'data_state': 'A', 'attempted_at': '2024-01-01T00:10:00Z', 'attempted_unix': at(0, 10),
                            'status': 1}
  assert os.listdir(tmp_path / 'schedule') == ['forecast.json']  # no temp file left behind

  second, _, run, logs = make(states=DataStates('A', 'B'), statuses=[EXIT_LOCK_HELD, 0], start=at(1, 0), state_file=state_file)
  second.serve(max_ticks=3)
  assert logs[1] == "last attempted data 'A': the attempt at 2024-01-01T00:10:00Z (status 1)"
  # Already tried A; B is refused (lock held: not recorded), then runs.
  assert outcomes(logs) == ['skipped-no-new-data', 'skipped-busy', 'ran']
  assert run.calls == [at(1, 20), at(1, 30)]
  with open(state_file) as f:
    assert json.load(f)['data_state'] == 'B'

  with open(state_file, 'w') as f:
    f.write('{"data_st')
  with pytest.raises(ValueError, match=f'cannot read the scheduler state file {re.escape(state_file)}.*Delete it'):
    make(state_file=state_file)


@pytest.mark.parametrize('cron', ['0 3 * *', '0 3 * * * *', '61 * * * *', 'every day at 3', '0 3 30 2 *'])
def test_invalid_cron_is_refused_by_name(cron):
  with pytest.raises(ValueError) as raised:
    make(cron)
  assert f'invalid cron expression {cron!r}' in str(raised.value)
  assert 'minute hour day-of-month month day-of-week' in str(raised.value)
  assert '"0 3 * * *"' in str(raised.value)


def test_stop_requested_during_a_run_lets_it_finish():
  scheduler = None

  def run() -> int:
    scheduler.request_stop()
    calls.append('run')
    return 0

  calls: List[str] = []
  clock = FakeClock(at(0, 3))
  logs: List[str] = []
  scheduler = RetrainScheduler('*/10 * * * *', lambda: 'A', run, log=logs.append, clock=clock, wait=clock.wait)
  assert scheduler.serve() == 0  # no max_ticks: only the stop ends it
  assert calls == ['run']
  assert logs[1:] == ['stop requested: stopping after the current run',
                      "2024-01-01T00:10:00Z ran data 'A': status 0 in 0.0 s", 'scheduler stopped']


# ----------------------------------------------------------------------------------------------------
# Real signals to a real scheduler process (real clock, real waits).

CHILD = textwrap.dedent('''
    import sys, time
    from orchestration.scheduler import RetrainScheduler
    say = lambda line: print(line, flush=True)
    # "* * * * *" fires at each minute; shift the clock so the next one is LEAD seconds away.
    lead = float(sys.argv[1])
    now = time.time()
    offset = (now // 60 + 1) * 60 - lead - now
    def run():
      say('run started')
      time.sleep(2)
      say('run finished')
      return 0
    scheduler = RetrainScheduler('* * * * *', lambda: 'span 1', run, log=say, clock=lambda: time.time() + offset)
    scheduler.install_signal_handlers()
    sys.exit(scheduler.serve())
''')


class Child:
  """The scheduler process, its output read line by line on a thread so that waits can time out."""

  def __init__(self, lead: float):
    self.process = subprocess.Popen([sys.executable, '-c', CHILD, str(lead)], cwd=REPO, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    self.lines: List[str] = []
    self._queue: queue.Queue = queue.Queue()
    threading.Thread(target=self._read, daemon=True).start()

  def _read(self) -> None:
    for line in self.process.stdout:
      self._queue.put(line.rstrip('\n'))
    self._queue.put(None)

  def wait_for(self, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in self.lines):
      try:
        line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
      except queue.Empty:
        raise AssertionError(f'no {text!r} in {timeout} s; output so far: {self.lines}') from None
      if line is None:
        raise AssertionError(f'exited before {text!r}; output: {self.lines}')
      self.lines.append(line)

  def finish(self, timeout: float = 10) -> int:
    status = self.process.wait(timeout=timeout)
    self.wait_for('scheduler stopped', timeout=1)
    while (line := self._queue.get(timeout=1)) is not None:
      self.lines.append(line)
    return status

  def kill(self) -> None:
    if self.process.poll() is None:
      self.process.kill()
      self.process.wait()


def test_sigterm_while_waiting_stops_at_once():
  child = Child(lead=30)  # the next cron time is 30 s away: it is waiting when the signal comes
  try:
    child.wait_for('scheduler started')
    sent = time.monotonic()
    child.process.send_signal(signal.SIGTERM)
    assert child.finish() == 0
    assert time.monotonic() - sent < 5
    assert 'run started' not in child.lines
    assert child.lines[-1] == 'scheduler stopped'
  finally:
    child.kill()


def test_sigterm_during_a_run_lets_the_run_finish():
  child = Child(lead=0.5)  # a run starts half a second after start-up and takes 2 s
  try:
    child.wait_for('run started')
    child.process.send_signal(signal.SIGTERM)
    assert child.finish() == 0
    lines = child.lines
    notice = lines.index('stop requested: stopping after the current run')
    finished = lines.index('run finished')
    ran = next(i for i, line in enumerate(lines) if re.match(r"\S+Z ran data 'span 1': status 0 in 2\.\d s$", line))
    assert lines.index('run started') < notice < finished < ran < lines.index('scheduler stopped') == len(lines) - 1
    assert lines.count('run started') == 1
  finally:
    child.kill()
