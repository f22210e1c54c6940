"""`tfx-lstm run TASK`: a task's pipeline run locally, one run at a time per task and root, each with its run id,
log file, summary and report. `run all` runs every task on its bundled data."""
import argparse
import contextlib
import datetime
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from typing import List, Optional

from cli import console
from cli import flags
from core import data_contract
from core.layout import RootLayout
from core.names import TASKS
from pipeline import preflight

TASK_FLAGS = {'forecast': flags.add_forecast_flags, 'sentiment': flags.add_sentiment_flags,
              'translate': flags.add_translate_flags}
TASK_HELP = {'forecast': 'multivariate time-series forecasting',
             'sentiment': 'Bi-LSTM sentence classification (0/1 labels)',
             'translate': 'encoder-decoder LSTM translation of sentence pairs'}


def add_parser(commands) -> None:
  run = flags.parser_with_examples(commands, 'run', help='run a task pipeline locally')
  run_tasks = run.add_subparsers(dest='task', required=True)
  for name in TASKS:
    task_parser = flags.parser_with_examples(run_tasks, name, help=TASK_HELP[name])
    flags.add_run_flags(task_parser)
    TASK_FLAGS[name](task_parser)
    flags.add_retraining_flags(task_parser)
    flags.add_profile_flag(task_parser)
  run_all = run_tasks.add_parser('all', help='every task on its bundled data, with default settings')
  flags.add_run_flags(run_all)
  run.set_defaults(handler=run_command)


def parse_run_argv(run_argv: List[str]) -> argparse.Namespace:
  """The settings of `tfx-lstm run TASK <flags>` (`run_argv` starts with 'run')."""
  parser = argparse.ArgumentParser(prog='tfx-lstm')
  add_parser(parser.add_subparsers(dest='command', required=True))
  return parser.parse_args(run_argv)


def run_argv_of(argv: List[str], command: str, own_flags: List[str]) -> List[str]:
  """`run TASK <flags>` from `<command> TASK <flags>`: the same flags without the command's own ones."""
  rest = list(argv[argv.index(command) + 1:])
  kept, skip = [], False
  for arg in rest:
    if skip:
      skip = False
      continue
    name = arg.split('=', 1)[0]
    if name in own_flags:
      skip = '=' not in arg
      continue
    kept.append(arg)
  return ['run', *kept]


def run_all_argvs(args) -> List[List[str]]:
  """`run all`: one `run <task>` per task, with the run flags `all` was given and every task's own defaults."""
  common = (['--root', args.root, '--replicas', str(args.replicas), '--beam-workers', str(args.beam_workers)]
            + (['--no-cache'] if args.no_cache else [])
            + (['--wait'] if args.wait else []) + [f'--beam-arg={arg}' for arg in args.beam_arg])
  return [['run', name, *common] for name in TASKS]


def run_command(args) -> int:
  if args.task != 'all':
    return run_task(args.task, args)
  for run_argv in run_all_argvs(args):  # each task with its own defaults
    status = run_task(run_argv[1], parse_run_argv(run_argv))
    if status:
      return status
  return 0


# Less free space than this under --root stops a run before it starts: TFX, Beam and the Trainer write artifacts,
# checkpoints and logs (a run of the bundled samples writes about 100 MB), and a disk that fills mid-run fails in
# whichever component is writing, with the filesystem's error in the log.
MIN_FREE_BYTES = 256 * 2**20


def check_root_writable(root: str, min_free_bytes: int = MIN_FREE_BYTES) -> None:
  """Raises UserError unless `root` (created if missing) takes a file and has `min_free_bytes` free: a read-only or
  full disk fails here, before the lock, the metadata store or any component touches it."""
  try:
    os.makedirs(root, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix='.write-check-') as probe:
      probe.write(b'tfx-lstm')
      probe.flush()
      os.fsync(probe.fileno())
  except OSError as e:
    raise console.UserError(f'--root {root} is not writable: {e.strerror or e} ({type(e).__name__}, errno '
                            f'{e.errno}); choose a writable --root') from None
  free = shutil.disk_usage(root).free
  if free < min_free_bytes:
    raise console.UserError(f'--root {root} has {free / 2**20:.0f} MB free, less than the '
                            f'{min_free_bytes / 2**20:.0f} MB a run needs; free some space or choose another --root')


# What --beam-workers sets: a --beam-arg naming one of these would send the steps elsewhere.
_BEAM_SERVICE_FLAGS = ('--runner', '--job_endpoint', '--environment_type', '--environment_config',
                       '--sdk_worker_parallelism')


def check_beam_flags(args) -> None:
  """--beam-workers picks the runner and its environment: a --beam-arg that picks them too is an error."""
  clashing = sorted({arg.split('=', 1)[0] for arg in args.beam_arg} & set(_BEAM_SERVICE_FLAGS))
  if args.beam_workers and clashing:
    raise console.UserError(f'--beam-workers {args.beam_workers} runs the Beam steps on a local job service and '
                            f'its workers; leave out --beam-arg {", ".join(clashing)}, or --beam-workers')


def new_run_id(task_name: str) -> str:
  """`<task>-<UTC time>-<4 hex digits>`: the TFX pipeline run id. Sortable, readable, and unique across the tasks
  of one metadata store (TFX names the pipeline-run context after it; context names are unique per type)."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S')
  return f'{task_name}-{stamp}-{secrets.token_hex(2)}'


def run_task(task_name: str, args) -> int:
  """Takes the task's lock, checks the data, runs the pipeline under a new run id and prints its summary."""
  from orchestration.run_lock import LockHeld, TaskLock  # pylint: disable=g-import-not-at-top
  layout = RootLayout.at(args.root)
  run_id = new_run_id(task_name)
  say = lambda text: print(f'tfx-lstm {task_name}: {text}', flush=True)  # pylint: disable=unnecessary-lambda-assignment
  try:
    check_root_writable(layout.root)
    check_beam_flags(args)
  except console.UserError as e:
    print(f'error: {e}\nnothing was run.', file=sys.stderr)
    return console.EXIT_USER_ERROR
  try:
    # The lock first: a refused run exits at once, and a queued (--wait) run checks the data as it is when it starts.
    with TaskLock(layout.locks, task_name, run_id, wait=args.wait, on_wait=say, on_takeover=say):
      try:
        checked = preflight.check(task_name, args)
        schema_content = preflight.schema_content(args)
      except data_contract.DataContractError as e:
        print(f'error: {e}\nnothing was run.', file=sys.stderr)
        return console.EXIT_USER_ERROR
      from orchestration import recovery  # pylint: disable=g-import-not-at-top
      for line in recovery.recover(layout.root, task_name, run_id):  # under the lock, no killed run is alive
        say(line)
      return _run_locked(task_name, args, checked, run_id, schema_content)
  except LockHeld as e:
    print(f'error: {e}', file=sys.stderr)
    return console.EXIT_BUSY


def _run_locked(task_name: str, args, checked: preflight.Checked, run_id: str, schema_content: Optional[str]) -> int:
  started = time.time()
  layout = RootLayout.at(args.root)
  log_path = layout.log_file(run_id)
  with console.console_and_log(log_path) as (out, err):
    out.write(f'tfx-lstm {task_name}: {checked.described}\n  run {run_id}\n  full log: {log_path}\n')
    # Imported here so their import-time warnings land in the log, not on the console.
    from orchestration import local_runner  # pylint: disable=g-import-not-at-top
    from records.run_record import artifact_property, read_run  # pylint: disable=g-import-not-at-top
    from trainer.common import split_cpu  # pylint: disable=g-import-not-at-top
    split_cpu(args.replicas)  # before TensorFlow initialises its devices
    progress = None
    try:
      with contextlib.ExitStack() as services:
        if args.beam_workers:
          from orchestration.beam_services import local_beam_services  # pylint: disable=g-import-not-at-top
          beam = services.enter_context(local_beam_services(layout.logs, args.beam_workers, run_id))
          out.write(f'  beam        job service {beam.job_endpoint}, {beam.workers} SDK worker process(es); '
                    f'logs: {", ".join(beam.logs)}\n')
          args.beam_arg = [*beam.beam_args(), *args.beam_arg]
        pipeline = local_runner.pipeline_from_settings(args, checked.build_task(), schema_content)
        progress = console.ProgressPrinter(out, total=len(pipeline.components))
        logging.getLogger().addHandler(progress)
        local_runner.run_local(pipeline, run_id)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('pipeline failed')
      if progress:
        progress.failed()
      message = console.user_message(e) or f'{console.cause(e)}\n  see the full log: {log_path}'
      record = read_run(layout.metadata_path, run_id) if os.path.exists(layout.metadata_path) else None
      pushed = record and artifact_property(record.output('PushedModel'), 'pushed_destination')
      err.write(f'error: {message}\n' + (f'the model was pushed to {pushed} before the failure'
                                          if pushed else 'nothing was pushed') + f' (run {run_id}).\n')
      if record is not None:
        write_run_report(layout, run_id, out)
      return console.EXIT_FAILED
    finally:
      if progress:
        logging.getLogger().removeHandler(progress)
    out.write(f'pipeline finished in {time.time() - started:.0f}s\n')
    from records.summary import print_summary  # pylint: disable=g-import-not-at-top
    try:
      with contextlib.redirect_stdout(out):
        print_summary(task_name, read_run(layout.metadata_path, run_id))
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('summary failed')
      err.write(f'error: the pipeline finished, but its summary failed: {console.cause(e)}\n'
                f'  see the full log: {log_path}\n'
                f'  what was pushed: tfx-lstm serving {task_name} --root {args.root}\n')
      write_run_report(layout, run_id, out)
      return console.EXIT_FAILED
    write_run_report(layout, run_id, out)
  return 0


def write_run_report(layout: RootLayout, run_id: str, out) -> None:
  """Writes the run's report from ML Metadata and prints its path; a report that cannot be written is said, and
  does not change the run's outcome."""
  from records import report  # pylint: disable=g-import-not-at-top
  try:
    path = report.write_report(layout.metadata_path, run_id, layout.report_file(run_id))
  except Exception as e:  # pylint: disable=broad-except
    logging.exception('report failed')
    out.write(f'  report      not written ({console.cause(e)}); '
              f'retry with: tfx-lstm report --root {layout.root} --run {run_id}\n')
    return
  out.write(f'  report      {path}\n')
