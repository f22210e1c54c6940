"""Files for the pre-flight, local or remote: a local path goes through the os module, a URI (gs://, s3://, hdfs://)
through TensorFlow's tf.io.gfile, which is imported only when a URI is met. So a local check stays free of
TensorFlow (it answers at once), and `--data gs://bucket/reviews` is checked where it is."""
import fnmatch
import glob as local_glob
import os
from typing import BinaryIO, List


def is_remote(path: str) -> bool:
  return '://' in path and not path.startswith('file://')


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  # only for a URI: see the module docstring
  return tf.io.gfile


def _local(path: str) -> str:
  return path[len('file://'):] if path.startswith('file://') else path


def isdir(path: str) -> bool:
  return _gfile().isdir(path) if is_remote(path) else os.path.isdir(_local(path))


def isfile(path: str) -> bool:
  if is_remote(path):
    return _gfile().exists(path) and not _gfile().isdir(path)
  return os.path.isfile(_local(path))


def listdir(path: str) -> List[str]:
  """Entry names (folders without a trailing '/')."""
  if is_remote(path):
    return [name.rstrip('/') for name in _gfile().listdir(path)]
  return os.listdir(_local(path))


def glob(pattern: str) -> List[str]:
  """Paths matching a pattern of one folder's entries (`dir/*.csv`), sorted; hidden names only when asked for."""
  if not is_remote(pattern):
    return sorted(local_glob.glob(_local(pattern)))
  directory, name = pattern.rsplit('/', 1)
  return sorted(f'{directory}/{entry}' for entry in listdir(directory) if fnmatch.fnmatch(entry, name)
                and (name.startswith('.') or not entry.startswith('.')))


def open_binary(path: str) -> BinaryIO:
  return _gfile().GFile(path, 'rb') if is_remote(path) else open(_local(path), 'rb')


def join(directory: str, *names: str) -> str:
  return '/'.join([directory.rstrip('/'), *names]) if is_remote(directory) else os.path.join(directory, *names)
