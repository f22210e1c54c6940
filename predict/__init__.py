"""`tfx-lstm predict`: query a pushed model (a SavedModel version, or the newest version under a serving root)."""
import os


class ModelNotFound(Exception):
  """The path holds no pushed tfx-lstm model."""


def resolve_model_dir(path: str) -> str:
  """A SavedModel directory, or a serving root whose newest complete version is used; local or any tf.io.gfile
  URI (gs://, ...)."""
  from tfx.dsl.io import fileio  # pylint: disable=g-import-not-at-top
  from components.atomic_pusher import version_directories  # pylint: disable=g-import-not-at-top
  from core.layout import version_path  # pylint: disable=g-import-not-at-top
  if fileio.exists(os.path.join(path, 'saved_model.pb')):
    return path
  versions = version_directories(path)
  if not versions:
    raise ModelNotFound(f'{path} is neither a SavedModel nor a directory of pushed model versions')
  return version_path(path, versions[-1])
