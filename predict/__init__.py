"""`tfx-lstm predict`: query a pushed model (a SavedModel version, or the newest version under a serving root)."""
import os


class ModelNotFound(Exception):
  """The path holds no pushed tfx-lstm model."""


def resolve_model_dir(path: str) -> str:
  """A SavedModel directory, or a serving root whose newest numeric version is used."""
  if os.path.exists(os.path.join(path, 'saved_model.pb')):
    return path
  versions = sorted((int(d) for d in os.listdir(path) if d.isdigit()), reverse=True) if os.path.isdir(path) else []
  if not versions:
    raise ModelNotFound(f'{path} is neither a SavedModel nor a directory of pushed model versions')
  return os.path.join(path, str(versions[0]))
