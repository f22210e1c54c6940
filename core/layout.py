"""Where things live: the folders of a run root (`--root`), and the names inside a serving directory.

A run root holds every task's pipelines, one ML Metadata store, the serving directories, logs, reports, locks
and schedules:

    <root>/metadata.sqlite            ML Metadata (SQLite), every task's runs
    <root>/pipelines/<task>/          TFX pipeline root: component outputs
    <root>/serving/<task>/<version>/  pushed models (a serving directory)
    <root>/logs/<run id>.log          each run's full log
    <root>/reports/<run id>.html      each run's report
    <root>/locks/<task>.lock          one run of a task at a time
    <root>/schedules/<task>.json      what the scheduler last tried
    <root>/schemas/<digest>/          curated schemas (--schema), by content
    <root>/beam/                      Beam's scratch files

A serving directory holds numeric version folders (what a model server loads), each with the pushed SavedModel,
its PUSH_COMPLETE note and the Trainer's warm-start state, and, while a push or a prune is under way, hidden
`.staging-*` and `.removing-*` folders that no reader takes for a version (components/atomic_pusher.py).
"""
import dataclasses
import os
import re
import shutil
import time
from typing import List, Optional

METADATA_FILE = 'metadata.sqlite'
PIPELINES, SERVING, LOGS, REPORTS, LOCKS, SCHEDULES, SCHEMAS, BEAM = (
    'pipelines', 'serving', 'logs', 'reports', 'locks', 'schedules', 'schemas', 'beam')


@dataclasses.dataclass(frozen=True)
class RootLayout:
  """The paths under one run root: a local directory (made absolute), or a URI such as gs://bucket/tfx-lstm (the
  Kubeflow profile's pipeline root)."""
  root: str

  @classmethod
  def at(cls, root: str) -> 'RootLayout':
    return cls(os.path.abspath(root) if is_local(root) else root.rstrip('/'))

  def _under(self, *parts: str) -> str:
    return os.path.join(self.root, *parts)

  @property
  def metadata_path(self) -> str:
    return self._under(METADATA_FILE)

  def pipeline_root(self, task: str) -> str:
    return self._under(PIPELINES, task)

  def serving_root(self, task: str) -> str:
    return self._under(SERVING, task)

  @property
  def logs(self) -> str:
    return self._under(LOGS)

  def log_file(self, run_id: str) -> str:
    return self._under(LOGS, f'{run_id}.log')

  def error_log(self, stamp: str, token: str) -> str:
    """Where a command's unexpected failure keeps its traceback."""
    return self._under(LOGS, error_log_name(stamp, token))

  def report_file(self, run_id: str) -> str:
    return self._under(REPORTS, f'{run_id}.html')

  def comparison_file(self, first_run: str, second_run: str) -> str:
    return self._under(REPORTS, f'compare-{first_run}-vs-{second_run}.html')

  @property
  def locks(self) -> str:
    return self._under(LOCKS)

  def schedule_state(self, task: str) -> str:
    return self._under(SCHEDULES, f'{task}.json')

  def schema_file(self, digest: str) -> str:
    return self._under(SCHEMAS, digest, 'schema.pbtxt')

  @property
  def beam(self) -> str:
    return self._under(BEAM)


def error_log_name(stamp: str, token: str) -> str:
  return f'tfx-lstm-error-{stamp}-{token}.log'


def lock_file(locks_dir: str, task: str) -> str:
  return os.path.join(locks_dir, f'{task}.lock')


def lock_holder_file(locks_dir: str, task: str) -> str:
  """Who holds the task's lock (pid, host, run id), for messages."""
  return os.path.join(locks_dir, f'{task}.holder.json')


# Inside a serving directory.
COMPLETE_MARKER = 'PUSH_COMPLETE'  # each version's note {version, source, pushed_at}
WARM_START_DIR = 'warm_start'  # the Trainer's warm-start state: beside Format-Serving, and in each version
STAGING_PREFIX, REMOVING_PREFIX = '.staging-', '.removing-'  # a push's copy in flight; a version being deleted
_LEFTOVER = re.compile(r'^\.(?:staging|removing)-(\d+)-')  # both names embed a unix time (or a version's)


# Inside artifacts: the count of a split's transformed examples, beside them (components/sharded_transform.py).
TRANSFORMED_COUNTS_FILE = 'transformed_counts.json'


def version_path(serving_root: str, version: str) -> str:
  return os.path.join(serving_root, version)


def staging_name(now: int, token: str) -> str:
  return f'{STAGING_PREFIX}{now}-{token}'


def removing_name(version: str, token: str) -> str:
  return f'{REMOVING_PREFIX}{version}-{token}'


def is_local(path: str) -> bool:
  """True for a path on local disk (no scheme, or `file://`), where a directory rename is atomic."""
  return '://' not in path or path.startswith('file://')


def local_path(path: str) -> str:
  """A local path as the os module takes it (`file:///srv/x` -> `/srv/x`)."""
  return path[len('file://'):] if path.startswith('file://') else path


@dataclasses.dataclass
class Leftovers:
  """What remove_leftovers did: the folders removed, and the ones it could not remove (with why)."""
  removed: List[str] = dataclasses.field(default_factory=list)
  problems: List[str] = dataclasses.field(default_factory=list)

  def count(self, prefix: str) -> int:
    return sum(name.startswith(prefix) for name in self.removed)


def remove_leftovers(serving_root: str, older_than_seconds: Optional[float] = None) -> Leftovers:
  """Removes what killed pushes and prunes left in a local serving directory (`.staging-*`, `.removing-*`).

  Without `older_than_seconds`, call only while no other push or prune of this directory runs (the task's run
  lock): a leftover cannot be told apart from a copy in flight. With it, only leftovers whose name's time is that
  much older than now are removed (a Pusher that holds no lock). A folder that cannot be removed is noted, not
  raised: a push or a run goes on without it. A remote serving directory has no staging folders.
  """
  result = Leftovers()
  directory = local_path(serving_root)
  if not is_local(serving_root) or not os.path.isdir(directory):
    return result
  for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if not name.startswith((STAGING_PREFIX, REMOVING_PREFIX)) or not os.path.isdir(path) or os.path.islink(path):
      continue
    if older_than_seconds is not None:
      stamp = _LEFTOVER.match(name)
      if stamp is None or time.time() - int(stamp.group(1)) < older_than_seconds:
        continue
    try:
      shutil.rmtree(path)
    except OSError as e:
      result.problems.append(f'could not remove {path}: {e.strerror or e}')
      continue
    result.removed.append(name)
  return result
