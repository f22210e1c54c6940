"""The `tfx-lstm` entry point: builds the parser from every command module and dispatches to the command's handler.

Exit statuses: 0 done; 1 a run or command failed (the cause on one line, the traceback in a log file); 2 a problem
the user can fix (bad data, flags or paths: nothing was run); 75 another run of the task holds the root's lock;
130 interrupted.
"""
import argparse
import logging
import os
import sys
from typing import List, Optional

from cli import console
from cli import flags
from cli import history
from cli import kubeflow
from cli import predict
from cli import run
from cli import schedule
from cli import serving

# Commands that keep a log file of their own (run) or print a scheduler's lines; the others silence TensorFlow's
# start-up chatter on the console.
_LOGGING_COMMANDS = ('run', 'schedule')


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='tfx-lstm', description='TFX pipelines for LSTM forecasting, sentiment and translation.',
      epilog=flags.EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest='command', required=True)
  run.add_parser(commands)
  history.add_parsers(commands)  # summary, report, runs
  schedule.add_parsers(commands)  # schedule, airflow-dag
  kubeflow.add_parsers(commands)  # kubeflow-schedule, compile
  serving.add_parsers(commands)  # serving, rollback
  predict.add_parser(commands)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  args = build_parser().parse_args(argv)
  args.argv = argv  # what `schedule` and `airflow-dag` pass on as `run` flags
  if args.command not in _LOGGING_COMMANDS:
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
    import warnings  # pylint: disable=g-import-not-at-top
    warnings.filterwarnings('ignore', category=FutureWarning)
    logging.getLogger('tensorflow').setLevel(logging.ERROR)  # TFMA's loaders log deprecation warnings
  try:
    return args.handler(args)
  except KeyboardInterrupt:
    print('interrupted: nothing more was run (a run interrupted mid-way is marked abandoned by the next run)',
          file=sys.stderr)
    return console.EXIT_INTERRUPTED
  except Exception as e:  # pylint: disable=broad-except
    message = console.user_message(e)
    if message is None:
      return console.unexpected_failure(e, getattr(args, 'root', None))
    print(f'error: {message}', file=sys.stderr)
    return console.EXIT_USER_ERROR


def entry() -> None:
  """Console-script entry point."""
  status = main()
  sys.stdout.flush()
  sys.stderr.flush()
  # Skip interpreter teardown: TensorFlow's function destructors print harmless tracebacks during it.
  os._exit(status)  # pylint: disable=protected-access
