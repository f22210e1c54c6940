"""A Pusher executor that never leaves a half-written model version where a reader takes it for a whole one, and
keeps only the newest versions.

TFX's filesystem Pusher copies the SavedModel straight into `<base>/<version>/`, so a crash or a full disk
mid-copy leaves a partial version that a model server would pick up. Every path here goes through TFX's `fileio`
(which is `tf.io.gfile` for every scheme: local paths, `gs://`, `s3://`, `hdfs://`, `ram://`), so the serving root
and the model may be on a shared filesystem; what is atomic depends on where the serving root is:

- **Local disk** (a path without a scheme, or `file://`): the model is copied into a hidden staging directory
  beside the versions (`.staging-*`), every file and directory of it is fsynced, and it is renamed to
  `<base>/<version>/` (then the base directory is fsynced, so the new name survives a power cut too). `rename(2)`
  within one filesystem is atomic: a reader (TF Serving, `tfx-lstm serving`/`predict`, pruning, rollback) sees
  either no version directory or the whole one, and after a crash the version is there with all its data or not at
  all. Pruning renames a version out of the numeric namespace (`.removing-*`) before deleting it, so a
  half-deleted version is never visible either. (An NFS mount counts as local: its rename is atomic on the server.)
- **Object stores and other remote filesystems** (`gs://`, `s3://`, ...; `ram://` in the tests): there is no
  directory rename. `tf.io.gfile.rename` of a `gs://` directory copies and deletes each object in turn (not
  atomic, and twice the traffic), and on `ram://` it renames only the directory entry and leaves the files behind.
  So the model is copied object by object straight into `<base>/<version>/`, with `saved_model.pb` copied after
  every other file, and a completion marker `<base>/<version>/PUSH_COMPLETE` written last. What *is* atomic there
  is one object: a `gs://` object (the marker) becomes visible whole, only once its upload finished, and listing is
  strongly consistent. The marker is the commit point: `version_directories` (which `tfx-lstm serving`, rollback,
  pruning, version numbering's "newest" and the Kubeflow profile's `LatestServedModel` read) lists a remote
  version only once its marker exists, and pruning deletes the marker first, then the files. A crashed push leaves
  a numeric directory without a marker: readers ignore it, and later pushes number above it (it is never reused
  and never pruned, since it might be another pusher's copy in flight; delete it by hand).

What a TF Serving reader could observe on `gs://`: TF Serving knows nothing of the marker; it polls the base
directory and loads the highest numeric version. A poll that lands during the copy sees the new version's prefix
before `saved_model.pb` exists, so its load of that version fails ("no SavedModel bundle") and is retried after
`--load_retry_interval_micros` (up to `--max_num_load_retries`), while the previous version keeps serving (the
default availability-preserving policy unloads it only once the new one is ready). Since `saved_model.pb` is
copied last, a load that does find it finds every variable and asset beside it: TF Serving never loads a
half-copied model, but it can log failed loads and, with retries exhausted, stay on the old version. To avoid
that entirely, do not let TF Serving discover versions on an object store by listing: give it a model config file
with a `specific` version policy that you rewrite (one object, so atomic) once the marker exists, or have it
serve from local disk that a sync job fills from `gs://` into a staging directory and renames (atomic locally).
Renaming a staging *root* on `gs://` does not help: that rename is again a copy.

Every version holds `PUSH_COMPLETE`, a small JSON note `{version, source, pushed_at}`: remotely it is the commit
point above; locally it is written into the staging directory before the rename, so it arrives with the version.
Its `source` (the pushed SavedModel's directory) is what makes a re-run safe: see "Crashes" below.

Crashes. A push killed half-way (SIGKILL, a machine going down) leaves, on local disk, a `.staging-*` directory
that no reader takes for a version. The start of the next local run removes every such leftover (and `.removing-*`
ones of a killed prune) under the task's lock (orchestration/recovery.py); a Pusher, which holds no lock where
Airflow or Kubeflow run it, removes only leftovers more than an hour old before it stages its own. A push
killed after its rename but before TFX recorded the Pusher's execution leaves a whole new version that ML Metadata
does not know about; the re-run's Pusher finds the newest version's `source` is the model it was given and records
that version instead of copying the model again (no second version of one model). Runs of a task on one root are
serialised by the run lock, so a leftover is never another push still in flight there.

Version numbers are the unix time, raised above every numeric directory present (complete or not), so a clock set
back (or behind another machine's) never makes a new push sort below an older one. Locally a rename onto an
existing version fails, so concurrent pushers (or a rollback) cannot take the same number. On an object store
there is no create-if-absent through `tf.io.gfile`: two pushers that pick the same number at the same moment would
mix their files. Runs of one task on one root are serialised by the run lock
(`<root>/locks/<task>.lock`, one machine); do not push one task from two machines at once.

After a push the executor removes the oldest complete versions so that at most `keep_versions` remain (the
Pusher's custom_config, default 5). `copy_version` and `prune_versions` are shared with
`records/serving_history.rollback`, which re-publishes an earlier version the same way.
"""
import errno
import json
import os
import time
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from core.layout import COMPLETE_MARKER
from core.layout import WARM_START_DIR
from core.layout import is_local
from core.layout import local_path
from core.layout import remove_leftovers
from core.layout import removing_name
from core.layout import staging_name
from core.layout import version_path

KEEP_VERSIONS_KEY = 'keep_versions'
DEFAULT_KEEP_VERSIONS = 5
_RENAME_ATTEMPTS = 5  # another pusher (or a rollback) may take the same version number between check and rename
# COMPLETE_MARKER, a version's note {version, source, pushed_at}: written last on a remote filesystem (the version
# is complete), and into the staging directory before the rename on local disk (the rename is the commit point
# there); both say which model the version holds. The staging and removal names: core/layout.py.
_SAVED_MODEL_FILES = ('saved_model.pb', 'saved_model.pbtxt')  # what makes a directory a SavedModel: copied last


def keep_versions(custom_config: Union[None, str, Mapping[str, Any]]) -> int:
  """`keep_versions` from a Pusher's custom_config (a JSON string, a dict or None); 5 when absent."""
  if isinstance(custom_config, str):
    custom_config = json.loads(custom_config) if custom_config.strip() else {}
  value = (custom_config or {}).get(KEEP_VERSIONS_KEY, DEFAULT_KEEP_VERSIONS)
  # bool is an int in Python; `keep_versions: true` is a typo, not "keep 1"
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f'custom_config {KEEP_VERSIONS_KEY} must be an integer >= 1, got {value!r}')
  return value


def _numeric_directories(base_directory: str) -> List[str]:
  """Every numeric directory under `base_directory`, complete or not, oldest (smallest) first."""
  if not fileio.isdir(base_directory):
    return []
  names = [name.rstrip('/') for name in fileio.listdir(base_directory)]
  versions = [name for name in names if name.isdigit() and fileio.isdir(os.path.join(base_directory, name))]
  return sorted(versions, key=int)


def is_complete_version(version_dir: str) -> bool:
  """Whether a version directory holds a whole pushed model: on local disk, that it exists (it appeared by an
  atomic rename); elsewhere, that its completion marker exists (written after every file of the model)."""
  if is_local(version_dir):
    return fileio.isdir(version_dir)
  return fileio.exists(os.path.join(version_dir, COMPLETE_MARKER))


def version_directories(base_directory: str) -> List[str]:
  """Names of the complete numeric version directories under `base_directory`, oldest (smallest) first.

  Anything else (`.staging-*` copies in flight, `.removing-*` leftovers, stray files, and on a remote filesystem a
  numeric directory without its completion marker: a copy in flight or a crashed push) is not a version.
  """
  versions = _numeric_directories(base_directory)
  if is_local(base_directory):
    return versions
  return [v for v in versions if fileio.exists(os.path.join(version_path(base_directory, v), COMPLETE_MARKER))]


# What some filesystems (FUSE, SMB mounts) answer to fsync on a directory: they cannot make its entries durable
# that way, and a push must not fail for it.
_DIRECTORY_FSYNC_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES, errno.EPERM)


def _fsync(path: str, directory: bool = False) -> None:
  """fsyncs a file (errors raise: its data would not be durable) or a directory (best effort, see above)."""
  try:
    fd = os.open(local_path(path), os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
      os.fsync(fd)
    finally:
      os.close(fd)
  except OSError as e:
    if not directory or e.errno not in _DIRECTORY_FSYNC_UNSUPPORTED:
      raise
    logging.warning('Cannot fsync directory %s (%s); its entries are flushed when the filesystem does', path, e)


def _fsync_tree(top: str) -> None:
  """fsyncs every file and directory under `top` (local disk), deepest first: a rename published after this
  cannot outlive its contents in a crash."""
  for directory, _, files in os.walk(local_path(top), topdown=False):
    for name in files:
      _fsync(os.path.join(directory, name))
    _fsync(directory, directory=True)


# The Pusher, which holds no lock (Airflow, Kubeflow), removes only leftovers older than this: a staging directory
# that young may be another push still copying. A local run's recovery, under the task's lock, removes all of them.
LEFTOVER_AGE_SECONDS = 3600


def pushed_source(version_dir: str) -> Optional[str]:
  """The model directory a version was copied from, as its PUSH_COMPLETE note says; None without a readable one
  (a version pushed before the note existed locally)."""
  try:
    with fileio.open(os.path.join(version_dir, COMPLETE_MARKER), 'r') as f:
      return str(json.loads(f.read())['source'])
  except Exception:  # pylint: disable=broad-except  (missing: NotFoundError or OSError by plugin; bad JSON)
    return None


def newest_push_of(base_directory: str, source_dir: str) -> Optional[str]:
  """The newest complete version under `base_directory` if it was copied from `source_dir`, else None."""
  versions = version_directories(base_directory)
  if not versions:
    return None
  source = pushed_source(version_path(base_directory, versions[-1]))
  return versions[-1] if source is not None and source.rstrip('/') == source_dir.rstrip('/') else None


def _marker_text(version: str, source_dir: str) -> str:
  return json.dumps({'version': version, 'source': source_dir, 'pushed_at': int(time.time())})


def _copy_model(source_dir: str, destination: str) -> None:
  """Copies a SavedModel directory file by file, `saved_model.pb` after everything else; a source's completion
  marker is not copied (the caller writes the destination's own once the copy is whole)."""
  source_dir = source_dir.rstrip('/')
  last = []
  fileio.makedirs(destination)
  for directory, subdirectories, files in fileio.walk(source_dir):
    relative = directory.rstrip('/')[len(source_dir) + 1:]  # walk yields source_dir itself first, then below it
    target = os.path.join(destination, relative) if relative else destination
    for subdirectory in subdirectories:
      fileio.makedirs(os.path.join(target, subdirectory.rstrip('/')))
    for name in files:
      if not relative and name in (COMPLETE_MARKER, *_SAVED_MODEL_FILES):
        if name != COMPLETE_MARKER:
          last.append(name)
        continue
      fileio.copy(os.path.join(directory, name), os.path.join(target, name), overwrite=False)
  for name in last:
    fileio.copy(os.path.join(source_dir, name), os.path.join(destination, name), overwrite=False)


def _next_version(base_directory: str) -> int:
  existing = _numeric_directories(base_directory)
  return max([int(time.time())] + [int(v) + 1 for v in existing[-1:]])


def _copy_with_extras(source_dir: str, destination: str, extra_dirs: Mapping[str, str]) -> None:
  """The extra directories first (`<destination>/<name>/`), then the model, `saved_model.pb` last of all."""
  for name, directory in sorted(extra_dirs.items()):
    _copy_model(directory, os.path.join(destination, name))
  _copy_model(source_dir, destination)


def _copy_version_by_rename(source_dir: str, base_directory: str,
                            extra_dirs: Mapping[str, str]) -> Tuple[str, str]:
  """Local disk: copy into a staging directory beside the versions, fsync it, then rename it into place (atomic)."""
  staging = os.path.join(base_directory, staging_name(int(time.time()), uuid.uuid4().hex[:8]))  # unique
  marker = os.path.join(staging, COMPLETE_MARKER)
  try:
    _copy_with_extras(source_dir, staging, extra_dirs)
    _fsync_tree(staging)
    for attempt in range(_RENAME_ATTEMPTS):
      version = _next_version(base_directory)
      final = version_path(base_directory, str(version))
      with open(local_path(marker), 'w', encoding='utf-8') as f:  # the version's number is known only now
        f.write(_marker_text(str(version), source_dir))
        f.flush()
        os.fsync(f.fileno())
      _fsync(staging, directory=True)  # the note's directory entry
      try:
        fileio.rename(staging, final)
      except Exception:  # pylint: disable=broad-except  (the filesystem plugin picks the class: OSError, tf's OpError)
        # Lost a race for this number to a concurrent push: pick the next one, unless the rename failed otherwise.
        if not fileio.exists(final) or attempt == _RENAME_ATTEMPTS - 1:
          raise
        continue
      _fsync(base_directory, directory=True)  # the rename itself, durable (after the try: the push has happened)
      return str(version), final
    raise AssertionError('unreachable')  # the loop returns or raises
  finally:
    if fileio.exists(staging):
      fileio.rmtree(staging)


def _copy_version_with_marker(source_dir: str, base_directory: str,
                              extra_dirs: Mapping[str, str]) -> Tuple[str, str]:
  """A remote filesystem: copy object by object into `<base>/<version>/`, then write the completion marker."""
  version = _next_version(base_directory)
  while fileio.exists(version_path(base_directory, str(version))):  # a numeric file, or a pusher that just started
    version += 1
  final = version_path(base_directory, str(version))
  try:
    _copy_with_extras(source_dir, final, extra_dirs)
    with fileio.open(os.path.join(final, COMPLETE_MARKER), 'w') as f:
      f.write(_marker_text(str(version), source_dir))
  except BaseException:
    try:  # best effort: without its marker the partial copy is invisible to every reader but TF Serving anyway
      if fileio.exists(final):
        fileio.rmtree(final)
    except Exception as e:  # pylint: disable=broad-except
      logging.warning('Could not remove the partial copy %s: %s', final, e)
    raise
  return str(version), final


def copy_version(source_dir: str, base_directory: str,
                 extra_dirs: Optional[Mapping[str, str]] = None) -> Tuple[str, str]:
  """Copies `source_dir` to a new `<base_directory>/<version>/`, whole or not at all as readers see it, with each
  of `extra_dirs` ({name: directory}) as `<version>/<name>/` (a SavedModel loader ignores other directories).

  On local disk by copy-to-staging-then-rename; on a remote filesystem by copying in place and writing the
  completion marker last (module docstring); either way the version's PUSH_COMPLETE note names `source_dir`. The
  version is the current unix time, raised above every existing numeric directory so the copy is always the newest
  one (the one a model server serves) even when the clock is behind an earlier push. Returns (version, path).
  """
  fileio.makedirs(base_directory)
  if is_local(base_directory):
    return _copy_version_by_rename(source_dir, base_directory, extra_dirs or {})
  return _copy_version_with_marker(source_dir, base_directory, extra_dirs or {})


def _unpublish(base_directory: str, version: str) -> bool:
  """Takes a version out of what readers see, then deletes its files; False (logged) if it could not be taken out.

  Local disk: renamed out of the numeric namespace (`.removing-*`, atomic) and then deleted, so a failure half-way
  leaves no partial version that a model server or a rollback could mistake for a whole model. Remote: the
  completion marker is deleted first (one object: atomic), then the files; a failure half-way leaves a numeric
  directory without a marker, which readers ignore (TF Serving, which ignores markers, serves the newest version,
  never this old one).
  """
  path = version_path(base_directory, version)
  if is_local(base_directory):
    doomed = os.path.join(base_directory, removing_name(version, uuid.uuid4().hex[:8]))
    try:
      fileio.rename(path, doomed)
    except Exception as e:  # pylint: disable=broad-except  (OSError or tf's OpError, by filesystem plugin)
      logging.warning('Could not remove old model version %s: %s', path, e)
      return False
  else:
    doomed = path
    try:
      fileio.remove(os.path.join(path, COMPLETE_MARKER))
    except Exception as e:  # pylint: disable=broad-except
      logging.warning('Could not remove old model version %s: %s', path, e)
      return False
  try:
    fileio.rmtree(doomed)
  except Exception as e:  # pylint: disable=broad-except
    logging.warning('Removed old model version %s from serving, but could not delete %s: %s', path, doomed, e)
  return True


def prune_versions(base_directory: str, keep: int, protect: Sequence[str] = ()) -> List[str]:
  """Removes the oldest version directories so that at most `keep` remain; returns the removed paths.

  `protect` names versions (or their paths) never to remove, such as the one just pushed; they count towards
  `keep`. The newest version (the served one) is never removed either. A directory that cannot be removed is
  logged and left, since the push itself has already succeeded.
  """
  if keep < 1:
    raise ValueError(f'keep must be >= 1, got {keep}')
  protected = {os.path.basename(os.path.normpath(p)) for p in protect}
  versions = version_directories(base_directory)
  excess = len(versions) - keep
  removed = []
  for version in versions[:-1]:  # oldest first, never the newest
    if excess <= 0:
      break
    if version in protected:
      continue
    path = version_path(base_directory, version)
    if not _unpublish(base_directory, version):
      if not is_complete_version(path):  # a concurrent prune took it: it is gone all the same
        excess -= 1
      continue
    logging.info('Removed old model version %s (keeping the newest %d)', path, keep)
    removed.append(path)
    excess -= 1
  return removed


class AtomicPushExecutor(pusher_executor.Executor):
  """Pushes a blessed model to `<base_directory>/<unix time>/` (by copy-then-rename on local disk, by copy then
  completion marker elsewhere: module docstring), then prunes old versions. Before staging it removes what killed
  pushes left, and a model the newest version already holds (a push whose record was lost) is not copied again."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    # A bad keep_versions fails before anything is pushed, not after.
    keep = keep_versions(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))
    pushed_model = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(pushed_model)
      return
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    base = destination.filesystem.base_directory
    model_path = self.GetModelPath(input_dict)
    # Kubeflow and Airflow have no CLI run to do it (orchestration/recovery.py), and no lock: old leftovers only.
    leftovers = remove_leftovers(base, older_than_seconds=LEFTOVER_AGE_SECONDS)
    if leftovers.removed:
      logging.info('Removed what earlier pushes left unfinished in %s: %s', base, ', '.join(leftovers.removed))
    for problem in leftovers.problems:
      logging.warning('%s', problem)
    version = newest_push_of(base, model_path)
    if version is not None:
      logging.info('Model %s already pushed as version %s (a re-run after the push was not recorded)',
                   model_path, version)
      self._MarkPushed(pushed_model, pushed_destination=version_path(base, version), pushed_version=version)
      prune_versions(base, keep, protect=[version])
      return
    # The Trainer's warm-start state (trainer/common.py) beside the SavedModel, so that a copy of the served
    # version can warm-start the next Trainer where no resolver can find the Model (components/served_model.py).
    warm_start = os.path.join(os.path.dirname(model_path.rstrip('/')), WARM_START_DIR)
    version, final = copy_version(model_path, base,
                                  {WARM_START_DIR: warm_start} if fileio.isdir(warm_start) else None)
    logging.info('Model pushed to %s', final)
    self._MarkPushed(pushed_model, pushed_destination=final, pushed_version=version)
    prune_versions(base, keep, protect=[version])

