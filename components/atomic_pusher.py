"""A Pusher executor that never leaves a half-written model version behind, and keeps only the newest versions.

TFX's filesystem Pusher copies the SavedModel straight into `<base>/<version>/`, so a crash or a full disk
mid-copy leaves a partial version that a model server would pick up. This executor copies into a hidden
staging directory beside it and renames it into place, which is atomic on one filesystem.

After a push it removes the oldest version directories so that at most `keep_versions` remain (the Pusher's
custom_config, default 5). `copy_version` and `prune_versions` are shared with `records/serving_history.rollback`,
which re-publishes an earlier version the same way.
"""
import json
import os
import time
import uuid
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

KEEP_VERSIONS_KEY = 'keep_versions'
DEFAULT_KEEP_VERSIONS = 5
_RENAME_ATTEMPTS = 5  # another pusher (or a rollback) may take the same version number between check and rename


def keep_versions(custom_config: Union[None, str, Mapping[str, Any]]) -> int:
  """`keep_versions` from a Pusher's custom_config (a JSON string, a dict or None); 5 when absent."""
  if isinstance(custom_config, str):
    custom_config = json.loads(custom_config) if custom_config.strip() else {}
  value = (custom_config or {}).get(KEEP_VERSIONS_KEY, DEFAULT_KEEP_VERSIONS)
  # bool is an int in Python; `keep_versions: true` is a typo, not "keep 1"
  if isinstance(value, bool) or not isinstance(value, int) or value < 1:
    raise ValueError(f'custom_config {KEEP_VERSIONS_KEY} must be an integer >= 1, got {value!r}')
  return value


def version_directories(base_directory: str) -> List[str]:
  """Names of the numeric version directories under `base_directory`, oldest (smallest) first.

  Anything else (`.staging-*` copies in flight, `.removing-*` leftovers, stray files) is not a version.
  """
  if not fileio.isdir(base_directory):
    return []
  names = [name.rstrip('/') for name in fileio.listdir(base_directory)]
  versions = [name for name in names if name.isdigit() and fileio.isdir(os.path.join(base_directory, name))]
  return sorted(versions, key=int)


def copy_version(source_dir: str, base_directory: str) -> Tuple[str, str]:
  """Copies `source_dir` to a new `<base_directory>/<version>/` by copy-to-staging-then-rename.

  The version is the current unix time, raised above every existing version so the copy is always the newest
  one (the one a model server serves) even when the clock is behind an earlier push. Returns (version, path).
  """
  fileio.makedirs(base_directory)
  staging = os.path.join(base_directory, f'.staging-{int(time.time())}-{uuid.uuid4().hex[:8]}')  # unique per call
  try:
    io_utils.copy_dir(source_dir, staging)
    for attempt in range(_RENAME_ATTEMPTS):
      existing = version_directories(base_directory)
      version = max([int(time.time())] + [int(v) + 1 for v in existing[-1:]])
      final = os.path.join(base_directory, str(version))
      try:
        fileio.rename(staging, final)
        return str(version), final
      except Exception:  # pylint: disable=broad-except  (the filesystem plugin picks the class: OSError, tf's OpError)
        # Lost a race for this number to a concurrent push: pick the next one, unless the rename failed otherwise.
        if not fileio.exists(final) or attempt == _RENAME_ATTEMPTS - 1:
          raise
    raise AssertionError('unreachable')  # the loop returns or raises
  finally:
    if fileio.exists(staging):
      fileio.rmtree(staging)


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
    path = os.path.join(base_directory, version)
    # Renamed out of the version namespace first, so a failure half-way leaves no partial version that a model
    # server or a rollback could mistake for a whole model.
    doomed = os.path.join(base_directory, f'.removing-{version}-{uuid.uuid4().hex[:8]}')
    try:
      fileio.rename(path, doomed)
    except Exception as e:  # pylint: disable=broad-except  (OSError or tf's OpError, by filesystem plugin)
      logging.warning('Could not remove old model version %s: %s', path, e)
      if not fileio.exists(path):  # a concurrent prune took it: it is gone all the same
        excess -= 1
      continue
    try:
      fileio.rmtree(doomed)
    except Exception as e:  # pylint: disable=broad-except
      logging.warning('Removed old model version %s from serving, but could not delete %s: %s', path, doomed, e)
    logging.info('Removed old model version %s (keeping the newest %d)', path, keep)
    removed.append(path)
    excess -= 1
  return removed


class AtomicPushExecutor(pusher_executor.Executor):
  """Pushes a blessed model to `<base_directory>/<unix time>/` by copy-then-rename, then prunes old versions."""

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
    version, final = copy_version(self.GetModelPath(input_dict), base)
    logging.info('Model pushed to %s', final)
    self._MarkPushed(pushed_model, pushed_destination=final, pushed_version=version)
    prune_versions(base, keep, protect=[version])

