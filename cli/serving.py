"""`tfx-lstm serving` and `rollback`: a task's pushed model versions, and serving an earlier one again."""
import datetime
import sys

from cli import console
from cli import flags
from cli.history import metadata_path
from core.layout import RootLayout
from core.names import TASKS


def add_parsers(commands) -> None:
  serving_parser = flags.parser_with_examples(commands, 'serving', help="list a task's pushed model versions")
  serving_parser.add_argument('task', choices=TASKS)
  serving_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  serving_parser.set_defaults(handler=serving)
  rollback_parser = flags.parser_with_examples(
      commands, 'rollback', help='serve an earlier version again (pushed anew as the newest version)')
  rollback_parser.add_argument('task', choices=TASKS)
  rollback_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  rollback_parser.add_argument('--to', default='', type=flags.version_argument, metavar='VERSION',
                               help='the version to serve (default: the one pushed before the served model)')
  rollback_parser.add_argument('--keep-versions', type=int, default=5, metavar='N',
                               help='versions kept after the rollback (default: %(default)s)')
  rollback_parser.set_defaults(handler=rollback)


def serving(args) -> int:
  """Lists the task's pushed versions, newest first, and which one is served."""
  from records import serving_history  # pylint: disable=g-import-not-at-top
  versions = serving_history.serving_history(metadata_path(args.root), args.task,
                                             RootLayout.at(args.root).serving_root(args.task))
  if not versions:
    print(f'no {args.task} model was pushed under {args.root}')
    return 0
  table = [('VERSION', 'SERVED', 'RUN ID', 'PUSHED', 'HEADLINE', 'NOTE')]
  for v in versions:
    note = (f'rollback to {v.rollback_of}' if v.rollback_of else '') + ('' if v.on_disk else
                                                                       ' removed (retention)')
    pushed = datetime.datetime.fromtimestamp(v.pushed_at / 1000, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
    table.append((v.version, '*' if v.served else '', v.run_id or '-', pushed, v.headline or '-', note.strip()))
  console.print_table(table)
  return 0


def rollback(args) -> int:
  """Serves an earlier version again by pushing a copy of it as a new version (recorded in ML Metadata)."""
  from orchestration.run_lock import LockHeld, TaskLock  # pylint: disable=g-import-not-at-top
  from records import serving_history  # pylint: disable=g-import-not-at-top
  layout = RootLayout.at(args.root)
  store_path = metadata_path(args.root)
  try:
    # The task's lock: a rollback never interleaves with a run's push.
    with TaskLock(layout.locks, args.task, f'rollback-{args.task}', wait=False):
      served = serving_history.rollback(store_path, args.task, layout.serving_root(args.task), args.to or None,
                                        args.keep_versions)
  except LockHeld as e:
    print(f'error: {e}', file=sys.stderr)
    return console.EXIT_BUSY
  except serving_history.RollbackError as e:
    raise console.UserError(str(e)) from None
  print(f'serving version {served.version}: a copy of version {served.rollback_of} ({served.path})')
  return 0
