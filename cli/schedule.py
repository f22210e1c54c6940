"""`tfx-lstm schedule` and `airflow-dag`: retraining a task on a schedule, locally or under Apache Airflow, with the
flags of `tfx-lstm run TASK`."""
import subprocess
import sys

from cli import console
from cli import flags
from cli import run
from core import data_contract
from core.layout import RootLayout
from core.names import TASKS
from pipeline import preflight


def add_parsers(commands) -> None:
  schedule_parser = flags.parser_with_examples(
      commands, 'schedule', help='retrain a task on a cron schedule when new data arrives (runs until SIGTERM)')
  schedule_tasks = schedule_parser.add_subparsers(dest='task', required=True)
  airflow_parser = flags.parser_with_examples(
      commands, 'airflow-dag', help='write an Apache Airflow DAG file for a task (TFX AirflowDagRunner)')
  airflow_tasks = airflow_parser.add_subparsers(dest='task', required=True)
  for name in TASKS:
    task_parser = schedule_tasks.add_parser(name, help=f'the {name} task, with the flags of `run {name}`')
    task_parser.add_argument('--cron', required=True, help='5-field cron expression in UTC: minute hour day month '
                             'weekday, e.g. "0 3 * * *" for 03:00 every day')
    task_parser.add_argument('--state-file', default='', help='where the last attempted data is remembered '
                             '(default: <root>/schedules/<task>.json)')
    flags.add_run_flags(task_parser)
    run.TASK_FLAGS[name](task_parser)
    flags.add_retraining_flags(task_parser)
    dag_parser = airflow_tasks.add_parser(name, help=f'the {name} task, with the flags of `run {name}`')
    dag_parser.add_argument('--output', required=True, metavar='FILE', help='the DAG file to write (.py)')
    dag_parser.add_argument('--cron', default='', help='Airflow schedule, a 5-field cron expression '
                            '(default: none, triggered by hand)')
    flags.add_run_flags(dag_parser)
    run.TASK_FLAGS[name](dag_parser)
    flags.add_retraining_flags(dag_parser)
  schedule_parser.set_defaults(handler=schedule)
  airflow_parser.set_defaults(handler=airflow_dag)


def schedule(args) -> int:
  """Retrains a task at every cron time when a new span (or changed data) arrived; runs until SIGTERM."""
  from orchestration.scheduler import EXIT_LOCK_HELD, RetrainScheduler  # pylint: disable=g-import-not-at-top
  run_argv = run.run_argv_of(args.argv, 'schedule', ['--cron', '--state-file'])
  state_file = args.state_file or RootLayout.at(args.root).schedule_state(args.task)
  data_contract.select_spans(args.data, 0)  # a missing or ambiguous data directory is an error now, not per tick

  def log(line: str) -> None:
    print(f'tfx-lstm schedule {args.task}: {line}', flush=True)

  def run_once() -> int:
    # A process per retrain: TensorFlow's memory, the run's log and a crash stay with the run.
    status = subprocess.run([sys.executable, '-m', 'cli', *run_argv], check=False).returncode
    return EXIT_LOCK_HELD if status == console.EXIT_BUSY else status

  try:
    scheduler = RetrainScheduler(args.cron, lambda: data_contract.data_state(args.data), run_once, log=log,
                                 state_file=state_file)
  except ValueError as e:
    raise console.UserError(str(e)) from None
  scheduler.install_signal_handlers()  # before the first line: whoever reads it may stop the scheduler at once
  log(f'runs: tfx-lstm {" ".join(run_argv)}')
  return scheduler.serve()


def airflow_dag(args) -> int:
  """Writes an Airflow DAG file that builds this task's pipeline with the given flags (AirflowDagRunner)."""
  from orchestration import airflow_runner  # pylint: disable=g-import-not-at-top
  run_argv = run.run_argv_of(args.argv, 'airflow-dag', ['--output', '--cron'])
  settings = run.parse_run_argv(run_argv)
  if settings.beam_workers:
    raise console.UserError('--beam-workers starts Beam services for a local run; under Airflow, give the Beam '
                            'steps your cluster\'s runner with --beam-arg (docs/kubeflow.md)')
  # As given: the pre-flight fills in some (the embedding size from the vectors file) at every DAG parse.
  written = {name: value for name, value in vars(settings).items() if name != 'handler'}
  preflight.check(args.task, settings)  # bad data or flags fail here, not when Airflow parses the DAG
  path = airflow_runner.write_dag_file(args.output, written, run_argv, args.cron or None)
  print(path)
  return 0
