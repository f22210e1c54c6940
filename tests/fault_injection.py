"""`tfx-lstm` with one component held at a chosen point, for a test to kill the run there (test code only).

    python tests/fault_injection.py POINT READY_FILE -- run forecast --data ... --root ...

POINT is one of
  a node id (`Trainer`, `FileBasedExampleGen`, ...): the node's executor holds as it starts, after TFX registered
    its execution as RUNNING and created its output directories;
  `Pusher:staging`: the push holds after copying its first file into its staging directory;
  `Pusher:renamed`: the push holds right after its copy was renamed into place as a new version, before the
    executor returns (so before TFX records the execution).
At the point it writes READY_FILE (holding POINT) and sleeps until it is killed; everything else is the real CLI,
the real components, Beam and ML Metadata. A point that is never reached leaves no READY_FILE: the run just ends.
"""
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _hold(point: str, ready_file: str) -> None:
  """Says the point was reached, then waits to be killed."""
  with open(ready_file + '.tmp', 'w', encoding='utf-8') as f:
    f.write(point)
  os.replace(ready_file + '.tmp', ready_file)  # the test never reads half a file
  while True:
    time.sleep(60)


def _hold_node(node: str, ready_file: str) -> None:
  """Every executor runs through one of these two operators; the node's own run holds before its executor starts."""
  from tfx.orchestration.portable import beam_executor_operator  # pylint: disable=g-import-not-at-top
  from tfx.orchestration.portable import python_executor_operator  # pylint: disable=g-import-not-at-top
  for operator in (python_executor_operator.PythonExecutorOperator, beam_executor_operator.BeamExecutorOperator):
    def run_executor(self, execution_info, *args, _real=operator.run_executor, **kwargs):
      if execution_info.pipeline_node.node_info.id == node:
        _hold(node, ready_file)
      return _real(self, execution_info, *args, **kwargs)
    operator.run_executor = run_executor


def _hold_push_mid_copy(point: str, ready_file: str) -> None:
  from tfx.dsl.io import fileio  # pylint: disable=g-import-not-at-top
  real_copy = fileio.copy

  def copy(source, destination, overwrite=False):
    real_copy(source, destination, overwrite)
    if '/.staging-' in destination:  # only the Pusher writes there
      _hold(point, ready_file)
  fileio.copy = copy


def _hold_push_after_rename(point: str, ready_file: str) -> None:
  from components import atomic_pusher  # pylint: disable=g-import-not-at-top
  real_copy_version = atomic_pusher.copy_version

  def copy_version(*args, **kwargs):
    real_copy_version(*args, **kwargs)
    _hold(point, ready_file)
  atomic_pusher.copy_version = copy_version  # the executor looks it up when it pushes


def main() -> None:
  point, ready_file, separator, *cli_args = sys.argv[1:]
  assert separator == '--', 'usage: fault_injection.py POINT READY_FILE -- CLI ARGS'
  sys.path.insert(0, REPO)
  os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
  holds = {'Pusher:staging': _hold_push_mid_copy, 'Pusher:renamed': _hold_push_after_rename}
  holds.get(point, _hold_node)(point, ready_file)
  from cli import main as cli  # pylint: disable=g-import-not-at-top
  sys.argv = ['tfx-lstm', *cli_args]
  cli.entry()


if __name__ == '__main__':
  main()
