"""A run whose --root cannot take its outputs stops before anything starts, with a message that says why.

Read-only and full filesystems are real ones: a tmpfs (or a bind mount remounted read-only) in a private mount
namespace of the `tfx-lstm run` process when the tests run as root, for whom directory modes do not apply; a
directory without write permission otherwise.
"""
import os
import subprocess
import sys

import pytest

from conftest import REPO

IS_ROOT = os.geteuid() == 0


def _can_unshare() -> bool:
  return subprocess.run(['unshare', '--mount', 'true'], capture_output=True).returncode == 0


def _run_in_namespace(setup: str, argv):
  """`tfx-lstm ARGV` in a private mount namespace after the shell commands `setup` ran in it."""
  if not _can_unshare():
    pytest.fail('these tests need `unshare --mount` (util-linux) when run as root')
  return subprocess.run(['unshare', '--mount', 'sh', '-c', f'{setup} && exec "$@"', 'sh', sys.executable, '-m',
                         'cli', *argv], cwd=REPO, capture_output=True, text=True, timeout=300)


def _run_where_read_only(directory, mount_setup: str, argv):
  """`tfx-lstm ARGV` with `directory` read-only: as root by `mount_setup` in a private mount namespace, otherwise
  by taking the directory's write permission away for the run."""
  if IS_ROOT:
    return _run_in_namespace(mount_setup, argv)
  directory.chmod(0o555)
  try:
    return subprocess.run([sys.executable, '-m', 'cli', *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
  finally:
    directory.chmod(0o755)


def test_a_read_only_root_fails_before_any_component(tmp_path):
  parent = tmp_path / 'readonly'
  parent.mkdir()
  root = parent / 'root'
  result = _run_where_read_only(parent, f'mount -t tmpfs -o ro,size=1m tmpfs {parent}',
                                ['run', 'sentiment', '--root', str(root)])
  assert result.returncode == 2, result.stdout + result.stderr
  assert f'error: --root {root} is not writable: ' in result.stderr
  assert ('Read-only file system' if IS_ROOT else 'Permission denied') in result.stderr
  assert 'nothing was run.' in result.stderr and 'Traceback' not in result.stderr
  assert not root.exists()


def test_an_existing_root_made_read_only_is_left_as_it_was(tmp_path):
  """A root with earlier runs that became read-only (a remount after a disk error, say): nothing is written."""
  root = tmp_path / 'root'
  (root / 'serving' / 'sentiment' / '1').mkdir(parents=True)
  (root / 'serving' / 'sentiment' / '1' / 'saved_model.pb').write_bytes(b'model')
  before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob('*'))
  result = _run_where_read_only(root, f'mount --bind {root} {root} && mount -o remount,ro,bind {root}',
                                ['run', 'sentiment', '--root', str(root)])
  assert result.returncode == 2, result.stdout + result.stderr
  assert f'error: --root {root} is not writable: ' in result.stderr
  assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob('*')) == before


@pytest.mark.skipif(not IS_ROOT, reason='a small filesystem needs a mount (root); the free-space rule is the same')
def test_a_nearly_full_root_fails_before_any_component(tmp_path):
  root = tmp_path / 'small'
  root.mkdir()
  result = _run_in_namespace(f'mount -t tmpfs -o size=8m tmpfs {root}', ['run', 'sentiment', '--root', str(root)])
  assert result.returncode == 2, result.stdout + result.stderr
  assert f'error: --root {root} has 8 MB free, less than the 256 MB a run needs' in result.stderr
  assert 'nothing was run.' in result.stderr


def test_the_free_space_rule_in_process(tmp_path):
  """The same check, called as the CLI calls it, with the threshold above what any disk has free."""
  from cli import console  # pylint: disable=g-import-not-at-top
  from cli import run as run_command  # pylint: disable=g-import-not-at-top
  with pytest.raises(console.UserError, match=r'MB free, less than the \d+ MB a run needs'):
    run_command.check_root_writable(str(tmp_path), min_free_bytes=2**62)
  run_command.check_root_writable(str(tmp_path), min_free_bytes=0)
  assert os.listdir(tmp_path) == []  # the probe file is gone
