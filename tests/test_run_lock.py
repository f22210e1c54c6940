"""Tier 1: the per-task run lock, between real processes."""
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from orchestration.run_lock import LockHeld, TaskLock

HOLD = textwrap.dedent('''
    import os, sys, time
    from orchestration.run_lock import TaskLock
    lock = TaskLock(sys.argv[1], 'forecast', 'forecast-test-run')
    lock.__enter__()
    print('held', flush=True)
    if sys.argv[2] == 'die':
      os.kill(os.getpid(), 9)
    time.sleep(float(sys.argv[2]))
    print('releasing', flush=True)
    lock.__exit__(None, None, None)
''')


def _hold(locks, how):
  process = subprocess.Popen([sys.executable, '-c', HOLD, str(locks), how], stdout=subprocess.PIPE, text=True)
  assert process.stdout.readline().strip() == 'held'
  return process


def test_second_holder_is_refused_with_the_holder_named(tmp_path):
  holder = _hold(tmp_path, '30')
  try:
    with pytest.raises(LockHeld, match=rf'another forecast run holds .*forecast.lock: pid {holder.pid} on host '
                       r'.*, started .* UTC \(run forecast-test-run\)\. Wait for it to finish \(--wait\)'):
      with TaskLock(str(tmp_path), 'forecast'):
        pass
    with TaskLock(str(tmp_path), 'sentiment'):  # another task on the same root goes ahead
      pass
  finally:
    holder.kill()
    holder.wait()


def test_wait_runs_after_the_holder(tmp_path):
  holder = _hold(tmp_path, '2')
  waits = []
  with TaskLock(str(tmp_path), 'forecast', wait=True, on_wait=waits.append):
    # The holder says 'releasing' just before it lets go: a waiter that got in earlier would find nothing to read.
    assert select.select([holder.stdout], [], [], 0)[0], 'the lock was granted while the holder still held it'
    assert holder.stdout.readline().strip() == 'releasing'
  assert waits and f'pid {holder.pid}' in waits[0]
  assert holder.wait(timeout=10) == 0


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
  holder = _hold(tmp_path, 'die')
  holder.wait()
  assert holder.returncode == -signal.SIGKILL
  taken = []
  with TaskLock(str(tmp_path), 'forecast', on_takeover=taken.append):
    assert os.path.exists(tmp_path / 'forecast.holder.json')
  assert taken and f'pid {holder.pid}' in taken[0] and 'no longer running' in taken[0]
  assert not os.path.exists(tmp_path / 'forecast.holder.json')  # a clean exit leaves no note
