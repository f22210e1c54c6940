"""One run of a task at a time per root: an OS file lock per task, plus a note of who holds it.

The lock is `fasteners.InterProcessLock` (fcntl on POSIX): the kernel releases it when its process dies, however
it dies, so a lock left by a killed run is free again at once. The holder note (pid, host, start time, run id)
is only for messages; a note whose process no longer holds the lock is what a killed run leaves behind, and the
next holder says it took that lock over.
"""
import datetime
import json
import os
import socket
import time
from typing import Callable, Optional

import fasteners

from core.layout import lock_file
from core.layout import lock_holder_file


class LockHeld(Exception):
  """Another process runs this task on this root."""


def describe_holder(holder: Optional[dict]) -> str:
  if not holder:
    return 'a process that left no note'
  return (f"pid {holder['pid']} on host {holder['host']}, started {holder['started']}"
          + (f" (run {holder['run_id']})" if holder.get('run_id') else ''))


class TaskLock:
  """`with TaskLock(locks_dir, 'forecast', run_id, wait=False):` holds the task's lock for the block."""

  def __init__(self, locks_dir: str, task_name: str, run_id: str = '', wait: bool = False,
               on_wait: Optional[Callable[[str], None]] = None, on_takeover: Optional[Callable[[str], None]] = None):
    os.makedirs(locks_dir, exist_ok=True)
    self.path = lock_file(locks_dir, task_name)
    self._note = lock_holder_file(locks_dir, task_name)
    self._task, self._run_id, self._wait = task_name, run_id, wait
    self._on_wait, self._on_takeover = on_wait, on_takeover
    self._lock = fasteners.InterProcessLock(self.path)

  def _read_note(self) -> Optional[dict]:
    try:
      with open(self._note) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def __enter__(self) -> 'TaskLock':
    if not self._lock.acquire(blocking=False):
      holder = describe_holder(self._read_note())
      if not self._wait:
        raise LockHeld(f'another {self._task} run holds {self.path}: {holder}. '
                       'Wait for it to finish (--wait) or use another --root.')
      if self._on_wait:
        self._on_wait(f'waiting for the {self._task} run of {holder} to finish')
      while not self._lock.acquire(blocking=True, delay=0.2, max_delay=1.0, timeout=3600):
        time.sleep(0.1)
    stale = self._read_note()
    if stale and self._on_takeover:  # its holder died without removing it: the kernel released the lock
      self._on_takeover(f'took over the {self._task} lock left by {describe_holder(stale)}, which is no longer '
                        'running')
    note = {'pid': os.getpid(), 'host': socket.gethostname(), 'run_id': self._run_id,
            'started': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')}
    with open(self._note + '.tmp', 'w') as f:
      json.dump(note, f)
    os.replace(self._note + '.tmp', self._note)
    return self

  def __exit__(self, *exc) -> None:
    try:
      os.remove(self._note)
    except OSError:
      pass
    self._lock.release()
