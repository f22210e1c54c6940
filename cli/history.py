"""`tfx-lstm summary`, `report` and `runs`: what past runs did, read from ML Metadata and the runs' artifacts."""
import os

from cli import console
from cli import flags
from core.layout import RootLayout
from core.names import TASKS
from core.names import pipeline_name

ROOT_HELP = 'run root (default: %(default)s)'


def add_parsers(commands) -> None:
  summary_parser = flags.parser_with_examples(commands, 'summary', help="print a run's summary from ML Metadata")
  summary_parser.add_argument('--root', default='runs', help=ROOT_HELP)
  summary_parser.add_argument('--task', choices=TASKS, help='the latest run of this task (without --run)')
  summary_parser.add_argument('--run', default='', type=flags.run_id_argument, metavar='RUN_ID',
                              help='a run id, as `tfx-lstm run` prints it (e.g. forecast-20261126T101500-3fa2)')
  summary_parser.set_defaults(handler=summary)

  report_parser = flags.parser_with_examples(
      commands, 'report', help="write a run's HTML report (or two runs side by side) from ML Metadata")
  report_parser.add_argument('--root', default='runs', help=ROOT_HELP)
  report_parser.add_argument('--task', choices=TASKS, help='the latest run of this task (without --run)')
  report_parser.add_argument('--run', default='', type=flags.run_id_argument, metavar='RUN_ID',
                             help='the run to report on')
  report_parser.add_argument('--compare', nargs=2, type=flags.run_id_argument, metavar=('RUN_A', 'RUN_B'),
                             help='two runs of one task side by side (hyperparameters, data, metrics per slice)')
  report_parser.add_argument('--output', default='', metavar='FILE',
                             help='where to write the HTML (default: <root>/reports/<run id>.html)')
  report_parser.set_defaults(handler=report)

  runs_parser = flags.parser_with_examples(commands, 'runs', help='list past runs, newest first')
  runs_parser.add_argument('--root', default='runs', help=ROOT_HELP)
  runs_parser.add_argument('--task', choices=TASKS, help='only runs of this task')
  runs_parser.set_defaults(handler=runs)


def metadata_path(root: str) -> str:
  """The root's ML Metadata store; a UserError when the root holds no runs."""
  path = RootLayout.at(root).metadata_path
  if not os.path.exists(path):
    raise console.UserError(f'no runs under {root} ({path} does not exist)')
  return path


def _chosen_run(args, store_path: str):
  """The record of run `--run`, or of the latest run of `--task`."""
  from records import run_record  # pylint: disable=g-import-not-at-top
  run_id = args.run
  if not run_id:
    if not args.task:
      raise console.UserError('name a run (--run RUN_ID) or a task (--task T) for its latest run')
    run_id = run_record.latest_run_id(store_path, pipeline_name(args.task))
    if run_id is None:
      raise console.UserError(f'no {args.task} runs under {args.root}')
  record = run_record.read_run(store_path, run_id)
  if record is None:
    raise console.UserError(f'no run {run_id!r} under {args.root}')
  if args.task and record.task != args.task:
    raise console.UserError(f'run {run_id} is a {record.task} run, not {args.task}')
  return record


def summary(args) -> int:
  """Prints the summary of run `--run` (default: the latest run of `--task`) from ML Metadata."""
  from records.summary import print_summary  # pylint: disable=g-import-not-at-top
  record = _chosen_run(args, metadata_path(args.root))
  print_summary(record.task, record)
  return 0


def report(args) -> int:
  """Writes the HTML report of one run (default: the latest run of `--task`), or of two runs side by side."""
  from records import report as reports  # pylint: disable=g-import-not-at-top
  store_path, layout = metadata_path(args.root), RootLayout.at(args.root)
  if args.compare:
    if args.run:
      raise console.UserError('--compare names both runs; leave out --run')
    first, second = args.compare
    try:
      path = reports.write_comparison(store_path, first, second,
                                      args.output or layout.comparison_file(first, second))
    except (LookupError, ValueError) as e:
      raise console.UserError(str(e).strip("'\"")) from None
  else:
    record = _chosen_run(args, store_path)
    path = reports.write_report(store_path, record.run_id, args.output or layout.report_file(record.run_id))
  print(path)
  return 0


def runs(args) -> int:
  """Lists the runs under `--root` (of `--task`), newest first."""
  from records import report as reports  # pylint: disable=g-import-not-at-top
  rows = reports.list_runs(metadata_path(args.root), args.task)
  if not rows:
    print(f'no {args.task + " " if args.task else ""}runs under {args.root}')
    return 0
  console.print_table([('RUN ID', 'TASK', 'STARTED', 'STATUS', 'HEADLINE', 'BLESSED', 'PUSHED')] + [
      (r.run_id, r.task, r.started, r.status, r.headline or '-', r.blessed, r.pushed_version or '-') for r in rows])
  return 0
