"""The `tfx-lstm` command: argument parsing and console output. Runs a task's pipeline locally (one run at a
time per task and root, each with its run id and log file), prints a run's summary, or queries a pushed model."""
import argparse
import contextlib
import dataclasses
import datetime
import logging
import math
import os
import re
import secrets
import subprocess
import sys
import time
from typing import Callable, List, Optional, Tuple

# docs/design.md §7: tf_keras everywhere. This must be set before TensorFlow is imported anywhere in the process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# Dataclasses and pure-Python checks only: cheap, so `--help` and bad-input errors come back at once.
from components import data_contract  # noqa: E402
from pipeline import gates  # noqa: E402
from preprocessing import options as preprocessing_options  # noqa: E402
from trainer import hyperparameters as trainer_hyperparameters  # noqa: E402

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_FORECAST_DATA = os.path.join(PACKAGE_ROOT, 'data', 'beijing_pm25')
BUNDLED_SENTIMENT_DATA = os.path.join(PACKAGE_ROOT, 'data', 'sst2')
BUNDLED_TRANSLATE_DATA = os.path.join(PACKAGE_ROOT, 'data', 'fra_eng')
TASKS = ('forecast', 'sentiment', 'translate')
IMAGE_DATA_ROOT = '/app/data'  # the bundled samples in the project image (Dockerfile: WORKDIR /app)
FORECAST, FORECAST_OPTIONS = trainer_hyperparameters.ForecastHyperparameters(), preprocessing_options.ForecastOptions()
SENTIMENT, SENTIMENT_OPTIONS = trainer_hyperparameters.SentimentHyperparameters(), preprocessing_options.SentimentOptions()
TRANSLATE, TRANSLATE_OPTIONS = trainer_hyperparameters.TranslateHyperparameters(), preprocessing_options.TranslateOptions()
FORECAST_GATE, SENTIMENT_GATE, TRANSLATE_GATE = gates.ForecastGate(), gates.SentimentGate(), gates.TranslateGate()

EXAMPLES = """\
examples:
  tfx-lstm run forecast                         # bundled Beijing PM2.5 sample, next-hour pm2.5 from 24 h
  tfx-lstm run forecast --data my_csvs/ --time-column date --target load --series-column meter \\
      --window 48 --horizon 6 --epochs 10 --replicas 2
  tfx-lstm run forecast --eval-start 2014-07-01 --test-start 2014-10-01 --gap-policy fail
  tfx-lstm run forecast --beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=2
  tfx-lstm run sentiment                        # bundled SST-2 sample: Bi-LSTM, vocabulary built in Transform
  tfx-lstm run sentiment --data reviews/ --text-column review --label-column positive --slice-columns product
  tfx-lstm run translate                        # bundled Tatoeba English-French sample, split by English sentence
  tfx-lstm run translate --data fra-eng/ --pattern 'fra.txt' --units 512 --layers 2 --dropout 0.2 --epochs 20
  tfx-lstm run all                              # every task on its bundled data
  tfx-lstm run sentiment --wait                 # queue behind a sentiment run already going on this root
  tfx-lstm summary --task forecast              # the latest forecast run's summary; --run RUN_ID for another
  tfx-lstm runs                                 # every run under runs/, newest first; --task T for one task
  tfx-lstm report --task sentiment              # HTML report of the latest sentiment run (runs/reports/<run>.html)
  tfx-lstm report --run RUN_ID --output review.html
  tfx-lstm report --compare RUN_A RUN_B         # two runs of one task side by side
  tfx-lstm run sentiment --data reviews/ --spans 3   # reviews/span-<N>/ folders: train on the newest three
  tfx-lstm run sentiment --schema schema.pbtxt --no-warm-start
  tfx-lstm schedule sentiment --cron "0 3 * * *" --data reviews/   # retrain at 03:00 UTC when a span arrived
  tfx-lstm airflow-dag sentiment --output dags/sentiment.py --cron "0 3 * * *" --data reviews/
  tfx-lstm compile sentiment --output sentiment.yaml --image REGISTRY/tfx-lstm:1 \\
      --pipeline-root gs://BUCKET/tfx-lstm --data gs://BUCKET/reviews --data-sample reviews/
  tfx-lstm kubeflow-schedule sentiment.json --cron "0 3 * * *"
  tfx-lstm serving sentiment                    # pushed versions, newest first, and which is served
  tfx-lstm rollback sentiment --to 1795681516   # serve an earlier version again
  tfx-lstm predict forecast --model runs/serving/forecast --input data/beijing_pm25/beijing_pm25_2013_2014.csv
  tfx-lstm predict sentiment --model runs/serving/sentiment "a gripping , beautifully acted film ."
  tfx-lstm predict translate --model runs/serving/translate "I am hungry." "Where is the station?"
"""

EXIT_FAILED, EXIT_USER_ERROR = 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
EXIT_BUSY = 75  # another run of the task holds the lock: try again later (sysexits' EX_TEMPFAIL)


class UserError(Exception):
  """A problem the user can fix; printed without a traceback, exit status 2."""


# ----------------------------------------------------------------------------------------------------
# Output: one progress line per component on the console, everything else in the run's log file.

# The Trainer's per-epoch record (trainer.common.EPOCH_MESSAGE), as the progress line shows it.
_EPOCH_RECORD = re.compile(r'^epoch %d/%d: ')
# The Tuner's per-trial record (trainer.tuning.TRIAL_MESSAGE).
_TRIAL_RECORD = re.compile(r'^trial %d/%d: ')


class ProgressPrinter(logging.Handler):
  """Turns the orchestrator's 'Component X is running/finished' records into one line per component, and the
  Trainer's epoch records into live progress: updated in place on a terminal, one line per epoch otherwise."""

  def __init__(self, console, total: int):
    super().__init__(logging.INFO)
    self._console, self._total = console, total
    self._interactive = console.isatty()
    self._count, self._started, self._cached, self._node = 0, 0.0, False, ''
    self._line_open = False  # the component's line is written without its end yet
    self._running = False  # a component started and has not finished

  def _prefix(self) -> str:
    return f'  [{self._count:2d}/{self._total}] {self._node:<26} '

  def _show(self, text: str, final: bool) -> None:
    if self._interactive:
      self._console.write('\r\033[K' + self._prefix() + text + ('\n' if final else ''))
    else:  # finish the open line, or start a new one with the prefix
      self._console.write((text if self._line_open else self._prefix() + text) + '\n')
    self._line_open = not final and self._interactive
    self._console.flush()

  def emit(self, record: logging.LogRecord) -> None:
    message = record.msg
    if message == 'Component %s is running.':
      self._count += 1
      self._started, self._cached, self._node = time.time(), False, record.args[0]
      self._console.write(self._prefix())
      self._console.flush()
      self._line_open = self._running = True
    elif message == 'A cached execution %d is used.':
      self._cached = True
    elif isinstance(message, str) and _EPOCH_RECORD.match(message):
      if self._node == 'Tuner' and not self._interactive:
        return  # a line per trial is enough in a log file; a terminal still sees each trial's epochs in place
      epoch, epochs, loss, metric, value, left = record.args
      self._show(f'epoch {epoch}/{epochs}  loss {loss:.4f}  eval {metric} {value:.4f}  '
                 f'{_duration(left)} left', final=False)
    elif isinstance(message, str) and _TRIAL_RECORD.match(message):
      trial, trials, metric, value, best = record.args
      self._show(f'trial {trial}/{trials} done  eval {metric} {value:.4f}  best {best:.4f}', final=False)
    elif message == 'Component %s is finished.':
      status = 'cached' if self._cached else 'done'
      self._show(f'{status:<7}{time.time() - self._started:6.1f}s', final=True)
      self._running = False

  def failed(self) -> None:
    """Marks the running component's line; a failure between components leaves the finished lines alone."""
    if self._running:
      self._show('FAILED', final=True)
      self._running = False


def _duration(seconds: float) -> str:
  seconds = int(round(seconds))
  return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


@contextlib.contextmanager
def console_and_log(log_path: str):
  """Sends fd 1/2 (TF, Beam, absl, warnings) to `log_path`, a new file; yields (stdout, stderr) of the console."""
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # one file per run id, never shared
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(1), 'w', buffering=1)
  console_err = os.fdopen(os.dup(2), 'w', buffering=1)
  os.dup2(log_fd, 1)
  os.dup2(log_fd, 2)
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.INFO)
  file_handler = logging.StreamHandler(sys.stderr)
  file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
  logging.getLogger().addHandler(file_handler)
  logging.captureWarnings(True)
  try:
    yield console, console_err
  finally:
    logging.getLogger().removeHandler(file_handler)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved_out, 1)
    os.dup2(saved_err, 2)
    for fd in (saved_out, saved_err, log_fd):
      os.close(fd)
    console.close()
    console_err.close()


def _user_message(error: BaseException) -> Optional[str]:
  """The message of a DataContractError anywhere in the exception chain."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, data_contract.DataContractError):
      return str(error)
    error = error.__cause__ or error.__context__
  return None


# ----------------------------------------------------------------------------------------------------
# run: pre-flight data checks (no TensorFlow), then the task spec.

@dataclasses.dataclass
class Checked:
  """What the pre-flight check found, and how to build the task spec once TensorFlow may load."""
  described: str
  build_task: object  # () -> pipeline.tasks.TaskSpec
  spans: Optional[data_contract.SpanSelection] = None


def _spans_back(task_name: str, args) -> int:
  return data_contract.DEFAULT_SPANS_BACK[task_name] if args.spans is None else args.spans


def _spans(task_name: str, args) -> data_contract.SpanSelection:
  """The span folders this run reads (none for a flat directory)."""
  return data_contract.select_spans(args.data, _spans_back(task_name, args), args.span)


def _finish_task(task, task_name: str, args, selection: data_contract.SpanSelection):
  """The task spec with the run's span selection and data gate."""
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  if selection.spans:
    task = tasks.with_spans(task, _spans_back(task_name, args), args.span)
  if args.tune:
    task = tasks.with_tuning(task, tasks.Tuning(trials=args.trials, minutes=args.tune_minutes))
  data_gate = dataclasses.replace(
      task.data_gate,
      **{name: getattr(args, name) for name in ('max_categorical_drift', 'max_numeric_drift')
         if getattr(args, name) is not None})
  return dataclasses.replace(task, data_gate=data_gate)


def _with_spans_described(described: str, selection: data_contract.SpanSelection) -> str:
  return f'{described}; {selection.describe()}' if selection.spans else described


def _check_forecast(args) -> Checked:
  from components.window_config import WindowConfig  # pylint: disable=g-import-not-at-top
  features = [f.strip() for f in args.features.split(',') if f.strip()] if args.features else None
  selection = _spans('forecast', args)
  # A gap no window can bridge is a data error unless allowed; ExampleGen checks it too, with the same text format.
  max_gap_steps = args.window if args.max_gap_steps is None else args.max_gap_steps
  if max_gap_steps < 0:
    raise data_contract.DataContractError(f'--max-gap-steps must be 0 (any gap) or more, not {max_gap_steps}')
  found = data_contract.check_forecast_data(args.data, args.time_column, args.target, features, args.series_column,
                                            directories=selection.directories, max_gap_steps=max_gap_steps,
                                            step_seconds=args.step_seconds)
  window_config = WindowConfig(  # validates names and split boundaries now, before anything heavy loads
      time_column=args.time_column, target=args.target, numeric_features=tuple(found.numeric_features),
      categorical_features=tuple(found.categorical_features), series_column=args.series_column,
      window=args.window, horizon=args.horizon, step_seconds=args.step_seconds, eval_start=args.eval_start,
      test_start=args.test_start, eval_fraction=args.eval_fraction, test_fraction=args.test_fraction,
      gap_policy=args.gap_policy)

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.forecast_task(
        window_config, found.text_format,
        _from_args(preprocessing_options.ForecastOptions, args, calendar_features=not args.no_calendar_features),
        _from_args(trainer_hyperparameters.ForecastHyperparameters, args, residual=not args.no_residual,
                   target_differences=not args.no_target_differences),
        _from_args(gates.ForecastGate, args)), 'forecast', args, selection)

  return Checked(_with_spans_described(found.describe(args.data, args.target), selection), build_task, selection)


def _pretrained_embeddings(args, defaults) -> Optional[dict]:
  """Checks the --embeddings file (its first lines, and its SHA-256 for the Trainer's cache key) and sizes the
  embedding to it; None without one.
  Sets args.embedding_dim: the flag, else the file's dimension, else the default."""
  from trainer import pretrained_embeddings  # pylint: disable=g-import-not-at-top  # no TensorFlow import
  if args.embedding_dim is not None and args.embedding_dim < 1:
    raise data_contract.DataContractError(f'--embedding-dim must be at least 1, not {args.embedding_dim}')
  if args.freeze_embedding_epochs and args.freeze_embedding_epochs >= args.epochs:
    raise data_contract.DataContractError(
        f'--freeze-embedding-epochs {args.freeze_embedding_epochs} leaves none of the {args.epochs} epochs to train '
        'the embedding')
  if not args.embeddings:
    if args.freeze_embedding_epochs:
      raise data_contract.DataContractError('--freeze-embedding-epochs needs --embeddings FILE')
    args.embedding_dim = args.embedding_dim or defaults.embedding_dim
    return None
  config = pretrained_embeddings.trainer_config(args.embeddings, args.freeze_embedding_epochs,
                                                embedding_dim=args.embedding_dim)
  args.embedding_dim = config['dimension']
  return config


def _check_sentiment(args) -> Checked:
  slice_columns = tuple(c.strip() for c in args.slice_columns.split(',') if c.strip())
  delimiter = {'\\t': '\t', 'tab': '\t', 'comma': ','}.get(args.delimiter, args.delimiter)  # lets users type \t
  selection = _spans('sentiment', args)
  found = data_contract.check_sentiment_spans(selection.directories, args.text_column, args.label_column,
                                              slice_columns, delimiter)
  embeddings = _pretrained_embeddings(args, SENTIMENT)

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.sentiment_task(found.input_splits, found.text_format, found.hash_splits,
                                             args.text_column, args.label_column, slice_columns,
                                             _from_args(preprocessing_options.SentimentOptions, args),
                                             _from_args(trainer_hyperparameters.SentimentHyperparameters, args),
                                             _from_args(gates.SentimentGate, args), embeddings),
                        'sentiment', args, selection)

  return Checked(_with_spans_described(f'{found.rows:,} labelled sentences in {args.data} ({found.layout})',
                                       selection), build_task, selection)


def _check_translate(args) -> Checked:
  if args.max_source_length < 1 or args.max_target_length < 1:
    raise data_contract.DataContractError('--max-source-length and --max-target-length must be at least 1')
  selection = _spans('translate', args)
  _, described = data_contract.check_translate_data(args.data, args.pattern, args.max_line_chars,
                                                    directories=selection.directories)
  embeddings = _pretrained_embeddings(args, TRANSLATE)

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.translate_task(
        data_contract.translate_format(args.max_line_chars), args.pattern,
        _from_args(preprocessing_options.TranslateOptions, args),
        _from_args(trainer_hyperparameters.TranslateHyperparameters, args, reverse_source=not args.no_reverse_source),
        _from_args(gates.TranslateGate, args), embeddings), 'translate', args, selection)

  return Checked(_with_spans_described(described, selection), build_task, selection)


_CHECKS = {'forecast': _check_forecast, 'sentiment': _check_sentiment, 'translate': _check_translate}


def pipeline_from_run_argv(run_argv: List[str], enable_cache: Optional[bool] = None):
  """The pipeline `tfx-lstm run TASK <flags>` would run, with the local paths under its --root (for runners that
  orchestrate it otherwise, e.g. Airflow). The pre-flight data check runs first and raises on bad data."""
  args = build_parser().parse_args(run_argv)
  if args.command != 'run' or args.task == 'all':
    raise UserError(f'expected `run TASK [flags]`, got {" ".join(run_argv)}')
  checked = _CHECKS[args.task](args)
  schema_content = data_contract.check_schema_file(args.schema) if args.schema else None
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  return _local_pipeline(args, checked.build_task(), local_runner.RunPaths.under(args.root, args.task),
                         schema_content, enable_cache)


def _local_pipeline(args, task, paths, schema_content: Optional[str], enable_cache: Optional[bool] = None):
  """The task's local pipeline with the run flags of `args` (the one place they become pipeline options)."""
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  return local_runner.build_local_pipeline(
      task, args.data, paths, args.beam_arg,
      enable_cache=not args.no_cache if enable_cache is None else enable_cache,
      schema_file=paths.keep_schema(schema_content) if schema_content else None,
      warm_start=not args.no_warm_start, keep_versions=args.keep_versions, profile=args.profile)


def run_task(task_name: str, args) -> int:
  """Takes the task's lock, checks the data, runs the pipeline under a new run id and prints its summary."""
  from pipeline.run_lock import LockHeld, TaskLock  # pylint: disable=g-import-not-at-top
  root = os.path.abspath(args.root)
  run_id = _new_run_id(task_name)
  say = lambda text: print(f'tfx-lstm {task_name}: {text}', flush=True)  # pylint: disable=unnecessary-lambda-assignment
  try:
    check_root_writable(root)
  except UserError as e:
    print(f'error: {e}\nnothing was run.', file=sys.stderr)
    return EXIT_USER_ERROR
  try:
    # The lock first: a refused run exits at once, and a queued (--wait) run checks the data as it is when it starts.
    with TaskLock(os.path.join(root, 'locks'), task_name, run_id, wait=args.wait, on_wait=say, on_takeover=say):
      try:
        checked = _CHECKS[task_name](args)
        schema_content = data_contract.check_schema_file(args.schema) if args.schema else None
      except data_contract.DataContractError as e:
        print(f'error: {e}\nnothing was run.', file=sys.stderr)
        return EXIT_USER_ERROR
      from pipeline import recovery  # pylint: disable=g-import-not-at-top
      for line in recovery.recover(root, task_name, run_id):  # what killed runs left: under the lock, none is alive
        say(line)
      return _run_locked(task_name, args, checked, run_id, schema_content)
  except LockHeld as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_BUSY


# Less free space than this under --root stops a run before it starts: TFX, Beam and the Trainer write artifacts,
# checkpoints and logs (a run of the bundled samples writes about 100 MB), and a disk that fills mid-run fails in
# whichever component is writing, with the filesystem's error in the log.
MIN_FREE_BYTES = 256 * 2**20


def check_root_writable(root: str, min_free_bytes: int = MIN_FREE_BYTES) -> None:
  """Raises UserError unless `root` (created if missing) takes a file and has `min_free_bytes` free: a read-only or
  full disk fails here, before the lock, the metadata store or any component touches it."""
  import shutil  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  try:
    os.makedirs(root, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix='.write-check-') as probe:
      probe.write(b'tfx-lstm')
      probe.flush()
      os.fsync(probe.fileno())
  except OSError as e:
    raise UserError(f'--root {root} is not writable: {e.strerror or e} ({type(e).__name__}, errno '
                    f'{e.errno}); choose a writable --root') from None
  free = shutil.disk_usage(root).free
  if free < min_free_bytes:
    raise UserError(f'--root {root} has {free / 2**20:.0f} MB free, less than the {min_free_bytes / 2**20:.0f} MB a '
                    'run needs; free some space or choose another --root')


def _new_run_id(task_name: str) -> str:
  """`<task>-<UTC time>-<4 hex digits>`: the TFX pipeline run id. Sortable, readable, and unique across the tasks
  of one metadata store (TFX names the pipeline-run context after it; context names are unique per type)."""
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S')
  return f'{task_name}-{stamp}-{secrets.token_hex(2)}'


def _run_locked(task_name: str, args, checked: Checked, run_id: str, schema_content: Optional[str]) -> int:
  started = time.time()
  log_path = os.path.join(os.path.abspath(args.root), 'logs', f'{run_id}.log')
  with console_and_log(log_path) as (console, console_err):
    console.write(f'tfx-lstm {task_name}: {checked.described}\n  run {run_id}\n  full log: {log_path}\n')
    # Imported here so their import-time warnings land in the log, not on the console.
    from pipeline import local_runner  # pylint: disable=g-import-not-at-top
    from records.run_record import artifact_property, read_run  # pylint: disable=g-import-not-at-top
    from trainer.common import split_cpu  # pylint: disable=g-import-not-at-top
    split_cpu(args.replicas)  # before TensorFlow initialises its devices
    task = checked.build_task()
    paths = local_runner.RunPaths.under(args.root, task_name)
    pipeline = _local_pipeline(args, task, paths, schema_content)
    progress = ProgressPrinter(console, total=len(pipeline.components))
    logging.getLogger().addHandler(progress)
    try:
      local_runner.run_local(pipeline, run_id)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('pipeline failed')
      progress.failed()
      message = _user_message(e) or (
          f'{_cause(e)}\n  see the full log: {log_path}')
      record = read_run(paths.metadata_path, run_id) if os.path.exists(paths.metadata_path) else None
      pushed = record and artifact_property(record.output('PushedModel'), 'pushed_destination')
      console_err.write(f'error: {message}\n' + (f'the model was pushed to {pushed} before the failure'
                                                  if pushed else 'nothing was pushed') + f' (run {run_id}).\n')
      if record is not None:
        _write_run_report(paths.metadata_path, run_id, args.root, console)
      return EXIT_FAILED
    finally:
      logging.getLogger().removeHandler(progress)
    console.write(f'pipeline finished in {time.time() - started:.0f}s\n')
    from records.summary import print_summary  # pylint: disable=g-import-not-at-top
    try:
      with contextlib.redirect_stdout(console):
        print_summary(task_name, read_run(paths.metadata_path, run_id))
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('summary failed')
      console_err.write(f'error: the pipeline finished, but its summary failed: {_cause(e)}\n'
                        f'  see the full log: {log_path}\n'
                        f'  what was pushed: tfx-lstm serving {task_name} --root {args.root}\n')
      _write_run_report(paths.metadata_path, run_id, args.root, console)
      return EXIT_FAILED
    _write_run_report(paths.metadata_path, run_id, args.root, console)
  return 0


def _write_run_report(metadata_path: str, run_id: str, root: str, console) -> None:
  """Writes the run's report from ML Metadata and prints its path; a report that cannot be written is said, and
  does not change the run's outcome."""
  from records import report  # pylint: disable=g-import-not-at-top
  try:
    path = report.write_report(metadata_path, run_id, report.default_report_path(root, run_id))
  except Exception as e:  # pylint: disable=broad-except
    logging.exception('report failed')
    console.write(f'  report      not written ({_cause(e)}); '
                  f'retry with: tfx-lstm report --root {root} --run {run_id}\n')
    return
  console.write(f'  report      {path}\n')


# ----------------------------------------------------------------------------------------------------
# summary, report, runs: read from ML Metadata and the runs' artifacts

def _metadata_path(root: str) -> str:
  metadata_path = os.path.join(os.path.abspath(root), 'metadata.sqlite')
  if not os.path.exists(metadata_path):
    raise UserError(f'no runs under {root} ({metadata_path} does not exist)')
  return metadata_path


def _chosen_run(args, metadata_path: str):
  """The record of run `--run`, or of the latest run of `--task`."""
  from records import run_record  # pylint: disable=g-import-not-at-top
  run_id = args.run
  if not run_id:
    if not args.task:
      raise UserError('name a run (--run RUN_ID) or a task (--task T) for its latest run')
    run_id = run_record.latest_run_id(metadata_path, f'tfx-lstm-{args.task}')
    if run_id is None:
      raise UserError(f'no {args.task} runs under {args.root}')
  record = run_record.read_run(metadata_path, run_id)
  if record is None:
    raise UserError(f'no run {run_id!r} under {args.root}')
  task_name = record.pipeline_name.removeprefix('tfx-lstm-')
  if args.task and task_name != args.task:
    raise UserError(f'run {run_id} is a {task_name} run, not {args.task}')
  return record, task_name


def summary(args) -> int:
  """Prints the summary of run `--run` (default: the latest run of `--task`) from ML Metadata."""
  from records.summary import print_summary  # pylint: disable=g-import-not-at-top
  record, task_name = _chosen_run(args, _metadata_path(args.root))
  print_summary(task_name, record)
  return 0


def report(args) -> int:
  """Writes the HTML report of one run (default: the latest run of `--task`), or of two runs side by side."""
  from records import report as reports  # pylint: disable=g-import-not-at-top
  metadata_path = _metadata_path(args.root)
  if args.compare:
    if args.run:
      raise UserError('--compare names both runs; leave out --run')
    first, second = args.compare
    output = args.output or os.path.join(os.path.abspath(args.root), 'reports', f'compare-{first}-vs-{second}.html')
    try:
      path = reports.write_comparison(metadata_path, first, second, output)
    except (LookupError, ValueError) as e:
      raise UserError(str(e).strip("'\"")) from None
  else:
    record, _ = _chosen_run(args, metadata_path)
    path = reports.write_report(metadata_path, record.run_id,
                                args.output or reports.default_report_path(args.root, record.run_id))
  print(path)
  return 0


def runs(args) -> int:
  """Lists the runs under `--root` (of `--task`), newest first."""
  from records import report as reports  # pylint: disable=g-import-not-at-top
  rows = reports.list_runs(_metadata_path(args.root), args.task)
  if not rows:
    print(f'no {args.task + " " if args.task else ""}runs under {args.root}')
    return 0
  table = [('RUN ID', 'TASK', 'STARTED', 'STATUS', 'HEADLINE', 'BLESSED', 'PUSHED')] + [
      (r.run_id, r.task, r.started, r.status, r.headline or '-', r.blessed, r.pushed_version or '-') for r in rows]
  widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
  for row in table:
    print('  '.join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
  return 0


# ----------------------------------------------------------------------------------------------------
# schedule, airflow-dag, kubeflow-schedule: retraining on a schedule, all driving the same pipeline

def _run_argv(argv: List[str], command: str, own_flags: Tuple[str, ...]) -> List[str]:
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


def schedule(args, argv: List[str]) -> int:
  """Retrains a task at every cron time when a new span (or changed data) arrived; runs until SIGTERM."""
  from pipeline.scheduler import EXIT_LOCK_HELD, RetrainScheduler  # pylint: disable=g-import-not-at-top
  run_argv = _run_argv(argv, 'schedule', ('--cron', '--state-file'))
  root = os.path.abspath(args.root)
  state_file = args.state_file or os.path.join(root, 'schedules', f'{args.task}.json')
  data_contract.select_spans(args.data, 0)  # a missing or ambiguous data directory is an error now, not per tick

  def log(line: str) -> None:
    print(f'tfx-lstm schedule {args.task}: {line}', flush=True)

  def run_once() -> int:
    # A process per retrain: TensorFlow's memory, the run's log and a crash stay with the run.
    status = subprocess.run([sys.executable, '-m', 'pipeline.cli', *run_argv], check=False).returncode
    return EXIT_LOCK_HELD if status == EXIT_BUSY else status

  try:
    scheduler = RetrainScheduler(args.cron, lambda: data_contract.data_state(args.data), run_once, log=log,
                                 state_file=state_file)
  except ValueError as e:
    raise UserError(str(e)) from None
  scheduler.install_signal_handlers()  # before the first line: whoever reads it may stop the scheduler at once
  log(f'runs: tfx-lstm {" ".join(run_argv)}')
  return scheduler.serve()


def airflow_dag(args, argv: List[str]) -> int:
  """Writes an Airflow DAG file that builds this task's pipeline with the given flags (AirflowDagRunner)."""
  from pipeline import airflow_runner  # pylint: disable=g-import-not-at-top
  run_argv = _run_argv(argv, 'airflow-dag', ('--output', '--cron'))
  _CHECKS[args.task](args)  # bad data or flags fail here, not when Airflow parses the DAG
  path = airflow_runner.write_dag_file(args.output, run_argv, args.cron or None)
  print(path)
  return 0


def kubeflow_schedule(args) -> int:
  """Writes a KFP recurring-run request body beside a compiled pipeline spec."""
  from pipeline import kubeflow_runner  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(args.pipeline_json):
    raise UserError(f'{args.pipeline_json} does not exist (a pipeline spec compiled for Kubeflow Pipelines v2)')
  try:
    path = kubeflow_runner.write_recurring_run(args.pipeline_json, args.cron, args.output or None)
  except ValueError as e:
    raise UserError(str(e)) from None
  print(path)
  return 0


def compile_kubeflow(args) -> int:
  """Compiles a task's pipeline (Kubeflow profile) for Kubeflow Pipelines v2 or Vertex AI; writes nothing else."""
  if not args.output.endswith(('.yaml', '.yml', '.json')):  # kubeflow_runner.OUTPUT_SUFFIXES, before TFX loads
    raise UserError(f'--output {args.output}: end it in .yaml (KFP pipeline spec) or .json (Vertex PipelineJob)')
  if args.keep_versions < 1:
    raise UserError(f'--keep-versions must be at least 1, got {args.keep_versions}')
  if args.schema and '://' not in args.schema and not args.schema.startswith(f'{os.path.dirname(IMAGE_DATA_ROOT)}/'):
    raise UserError(f'--schema {args.schema}: the Kubeflow steps read it, so give a URI they reach '
                    f'(gs://BUCKET/schema.pbtxt) or a path inside the image ({os.path.dirname(IMAGE_DATA_ROOT)}/...)')
  bundled = {'forecast': BUNDLED_FORECAST_DATA, 'sentiment': BUNDLED_SENTIMENT_DATA,
             'translate': BUNDLED_TRANSLATE_DATA}[args.task]
  # The cluster reads --data; the columns and layout are checked here, on a local copy laid out the same way.
  data_uri = args.data
  if args.data == bundled:  # the bundled sample, inside the image
    data_uri = f'{IMAGE_DATA_ROOT}/{os.path.basename(bundled)}'
  args.data = args.data_sample or args.data
  if '://' in args.data or not os.path.isdir(args.data):
    raise UserError(f'--data {args.data} is not a local directory: give --data-sample DIR, a local copy of a few '
                    'of its files laid out the same way, to check its columns and layout here')
  from pipeline import kubeflow_runner  # pylint: disable=g-import-not-at-top
  checked = _CHECKS[args.task](args)
  serving_root = args.serving or f'{args.pipeline_root.rstrip("/")}/serving/{args.task}'
  try:
    path = kubeflow_runner.compile_pipeline(
        checked.build_task(), args.output, args.pipeline_root, data_uri, serving_root, image=args.image,
        beam_pipeline_args=args.beam_arg, schema_file=args.schema or None, warm_start=not args.no_warm_start,
        keep_versions=args.keep_versions)
  except kubeflow_runner.KubeflowIncompatibleError as e:
    raise UserError(str(e)) from None
  print(f'{path}: {args.task} pipeline for Kubeflow Pipelines v2 (image {args.image}, data {data_uri}, '
        f'outputs {args.pipeline_root}, serving {serving_root})')
  return 0


# ----------------------------------------------------------------------------------------------------
# serving, rollback: the pushed versions of a task

def serving(args) -> int:
  """Lists the task's pushed versions, newest first, and which one is served."""
  from records import serving_history  # pylint: disable=g-import-not-at-top
  serving_root = os.path.join(os.path.abspath(args.root), 'serving', args.task)
  versions = serving_history.serving_history(_metadata_path(args.root), args.task, serving_root)
  if not versions:
    print(f'no {args.task} model was pushed under {args.root}')
    return 0
  table = [('VERSION', 'SERVED', 'RUN ID', 'PUSHED', 'HEADLINE', 'NOTE')]
  for v in versions:
    note = (f'rollback to {v.rollback_of}' if v.rollback_of else '') + ('' if v.on_disk else
                                                                       ' removed (retention)')
    pushed = datetime.datetime.fromtimestamp(v.pushed_at / 1000, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
    table.append((v.version, '*' if v.served else '', v.run_id or '-', pushed, v.headline or '-', note.strip()))
  widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
  for row in table:
    print('  '.join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
  return 0


def rollback(args) -> int:
  """Serves an earlier version again by pushing a copy of it as a new version (recorded in ML Metadata)."""
  from pipeline.run_lock import LockHeld, TaskLock  # pylint: disable=g-import-not-at-top
  from records import serving_history  # pylint: disable=g-import-not-at-top
  root = os.path.abspath(args.root)
  metadata_path = _metadata_path(args.root)
  try:
    # The task's lock: a rollback never interleaves with a run's push.
    with TaskLock(os.path.join(root, 'locks'), args.task, f'rollback-{args.task}', wait=False):
      served = serving_history.rollback(metadata_path, args.task, os.path.join(root, 'serving', args.task),
                                        args.to or None, args.keep_versions)
  except LockHeld as e:
    print(f'error: {e}', file=sys.stderr)
    return EXIT_BUSY
  except serving_history.RollbackError as e:
    raise UserError(str(e)) from None
  print(f'serving version {served.version}: a copy of version {served.rollback_of} ({served.path})')
  return 0


# ----------------------------------------------------------------------------------------------------
# predict

def predict(args) -> int:
  from predict import ModelNotFound, resolve_model_dir  # pylint: disable=g-import-not-at-top
  from trainer.common import read_model_metadata  # pylint: disable=g-import-not-at-top
  try:
    model_dir = resolve_model_dir(args.model)
  except ModelNotFound as e:
    raise UserError(str(e)) from None
  try:
    model_task = read_model_metadata(model_dir).get('task')
  except FileNotFoundError as e:
    raise UserError(str(e)) from None
  if model_task != args.task:
    raise UserError(f'{model_dir} is a {model_task} model, not a {args.task} model')
  if args.task == 'forecast':
    from predict.forecast import forecast_csv  # pylint: disable=g-import-not-at-top
    if args.last < 1:
      raise UserError('--last must be at least 1')
    lines = forecast_csv(model_dir, args.input, args.last)
  elif args.task == 'sentiment':
    from predict.sentences import classify  # pylint: disable=g-import-not-at-top
    lines = classify(model_dir, args.sentences)
  else:
    from predict.sentences import translate  # pylint: disable=g-import-not-at-top
    lines = translate(model_dir, args.sentences)
  for line in lines:
    print(line)
  return 0


# ----------------------------------------------------------------------------------------------------
# argument parsing

def _add_training_flags(parser: argparse.ArgumentParser, defaults, units_help: str, layers_help: str,
                        early_stopping_metric: str = ''):
  """The model and training flags every task has, defaulting to `defaults` (a dataclass of
  trainer/hyperparameters.py); returns the group for task-specific flags."""
  model = parser.add_argument_group('model and training')
  if hasattr(defaults, 'embedding_dim'):
    model.add_argument('--embedding-dim', type=int, default=None,
                       help=f'(default: {defaults.embedding_dim}, or the --embeddings file\'s dimension)')
    which = 'source ' if hasattr(defaults, 'reverse_source') else ''
    model.add_argument('--embeddings', default='', metavar='FILE',
                       help=f'word vectors (GloVe or word2vec text format) for the {which}embedding: rows of the '
                       'vocabulary\'s words found in FILE start from its vectors, the others stay random')
    model.add_argument('--freeze-embedding-epochs', type=int, default=0, metavar='N',
                       help='with --embeddings: keep the embedding fixed for the first N epochs (default: 0)')
  model.add_argument('--units', type=int, default=defaults.units, help=f'{units_help} (default: %(default)s)')
  model.add_argument('--layers', type=int, default=defaults.layers, help=f'{layers_help} (default: %(default)s)')
  model.add_argument('--dropout', type=float, default=defaults.dropout, help='(default: %(default)s)')
  model.add_argument('--epochs', type=int, default=defaults.epochs,
                     help=('at most ' if early_stopping_metric else '') + '(default: %(default)s)')
  if early_stopping_metric:
    model.add_argument('--patience', type=int, default=defaults.patience,
                       help=f'stop after this many epochs without eval-{early_stopping_metric} improvement, '
                       '0 = never (default: %(default)s)')
  model.add_argument('--batch-size', type=int, default=defaults.batch_size, help='per replica (default: %(default)s)')
  model.add_argument('--learning-rate', type=float, default=defaults.learning_rate, help='Adam (default: %(default)s)')
  model.add_argument('--seed', type=int, default=defaults.seed)
  tuning = parser.add_argument_group('hyperparameter search (TFX Tuner before the Trainer)')
  tuning.add_argument('--tune', action='store_true',
                      help='search the task\'s space (units, layers, dropout, learning rate, batch size'
                      + (', loss' if hasattr(defaults, 'huber_delta') else '') + '); the Trainer then trains with '
                      'the best trial\'s values, which replace the flags of the same names')
  tuning.add_argument('--trials', type=positive_int_argument, default=10, metavar='N', help='with --tune (default: %(default)s)')
  tuning.add_argument('--tune-minutes', type=minutes_argument, default=0, metavar='M',
                      help='with --tune: start no trial after M minutes (the first always runs); 0 = no limit '
                      '(default: %(default)s)')
  return model


def _from_args(cls, args, **overrides):
  """A dataclass of trainer/hyperparameters.py, preprocessing/options.py or pipeline/gates.py from the parsed
  flags of the same names (plus `overrides`)."""
  values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
  return cls(**{**values, **overrides})


def _add_forecast_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_FORECAST_DATA, help='directory of CSV files with a header '
                    '(default: the bundled Beijing PM2.5 sample)')
  data.add_argument('--time-column', default='datetime', help='timestamp or date column (default: %(default)s)')
  data.add_argument('--target', default='pm2.5', help='numeric column to forecast (default: %(default)s)')
  data.add_argument('--features', default='', help='comma list of input columns (default: all other columns; '
                    'non-numeric ones are categorical). The target history is always an input.')
  data.add_argument('--series-column', default='', help='column naming the series, for several series per file')
  windows = parser.add_argument_group('windows and splits')
  windows.add_argument('--window', type=int, default=24, help='lookback W in steps (default: %(default)s)')
  windows.add_argument('--horizon', type=int, default=1, help='forecast H steps after the window (default: %(default)s)')
  windows.add_argument('--step-seconds', type=int, default=0, help='sampling step (default: the most common spacing)')
  windows.add_argument('--gap-policy', choices=['drop', 'fail'], default='drop',
                       help='drop windows that would span a gap in time (default), or stop at the first gap; '
                       'a gap longer than --max-gap-steps stops the run either way')
  windows.add_argument('--max-gap-steps', type=int, default=None,
                       help='a gap of more missing time steps than this within one file (per series) is an error '
                       'before anything runs, whatever --gap-policy says; 0: any gap (default: --window)')
  windows.add_argument('--eval-start', default='', help='first timestamp of the eval split (default: by fraction)')
  windows.add_argument('--test-start', default='', help='first timestamp of the test split (default: by fraction)')
  windows.add_argument('--eval-fraction', type=float, default=0.1, help='share of the time range (default: %(default)s)')
  windows.add_argument('--test-fraction', type=float, default=0.1, help='share of the time range (default: %(default)s)')
  model = _add_training_flags(parser, FORECAST, 'LSTM units', 'stacked LSTM layers')
  model.add_argument('--loss', choices=['mse', 'mae', 'huber'], default=FORECAST.loss, help='(default: %(default)s)')
  model.add_argument('--huber-delta', type=float, default=FORECAST.huber_delta,
                     help='Huber loss delta in target z-score units (default: %(default)s)')
  model.add_argument('--no-residual', action='store_true',
                     help='predict the level, not the change from the last value')
  model.add_argument('--no-target-differences', action='store_true',
                     help='do not feed the target\'s step-to-step changes as an extra input')
  model.add_argument('--ema-momentum', type=momentum_argument, default=FORECAST.ema_momentum,
                     help='keep a moving average of the weights with this momentum, 0 = the last step\'s weights '
                     '(default: %(default)s)')
  model.add_argument('--no-calendar-features', action='store_true',
                     help='no time-of-day/time-of-year inputs derived from the timestamps')
  gate = parser.add_argument_group('blessing gate (overall eval slice)')
  gate.add_argument('--min-skill', type=float, default=FORECAST_GATE.min_skill,
                    help='1 - MAE/persistence MAE must exceed this (default: %(default)s)')
  gate.add_argument('--max-mae-increase', type=float, default=FORECAST_GATE.max_mae_increase,
                    help='allowed MAE increase over the latest blessed model (default: %(default)s)')


def _add_sentiment_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_SENTIMENT_DATA,
                    help='directory of delimited files with a header; train*/dev* (or eval*) files are used as '
                    'the splits, any other layout is hash-split 90/10 (default: the bundled SST-2 sample)')
  data.add_argument('--text-column', default='text', help='(default: %(default)s)')
  data.add_argument('--label-column', default='label', help='0/1 labels (default: %(default)s)')
  data.add_argument('--delimiter', default=None,
                    help="field separator: ',' (CSV quoting rules), '\\t' or 'tab' (no quoting), or another "
                    'character (no quoting) (default: by extension: .csv comma-separated, otherwise tab)')
  data.add_argument('--slice-columns', default='', help='comma list of columns to report metrics by')
  text = parser.add_argument_group('vocabulary')
  text.add_argument('--vocab-size', type=int, default=SENTIMENT_OPTIONS.vocab_size, help='most frequent tokens kept (default: %(default)s)')
  text.add_argument('--max-length', type=int, default=SENTIMENT_OPTIONS.max_length, help='tokens per sentence, longer ones are truncated '
                    '(default: %(default)s)')
  model = _add_training_flags(parser, SENTIMENT, 'LSTM units per direction', 'stacked Bi-LSTM layers', 'AUC')
  model.add_argument('--pooling', choices=['last', 'max'], default=SENTIMENT.pooling,
                     help="sentence vector: the Bi-LSTM's final states or the max over time (default: %(default)s)")
  gate = parser.add_argument_group('blessing gate (overall eval slice)')
  gate.add_argument('--min-auc', type=float, default=SENTIMENT_GATE.min_auc,
                    help='AUC must exceed this (default: %(default)s)')
  gate.add_argument('--max-auc-drop', type=float, default=SENTIMENT_GATE.max_auc_drop,
                    help='allowed AUC drop from the latest blessed model (default: %(default)s)')


def _add_translate_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_TRANSLATE_DATA,
                    help='directory of tab-separated pair files, no header: source<TAB>target[<TAB>ignored...] '
                    '(default: the bundled Tatoeba English-French sample)')
  data.add_argument('--pattern', default='*.txt', help='which files of --data to read (default: %(default)s)')
  data.add_argument('--max-line-chars', type=int, default=1000,
                    help='a longer line is an error, not a sentence pair (default: %(default)s)')
  text = parser.add_argument_group('vocabularies and lengths')
  text.add_argument('--source-vocab-size', type=int, default=TRANSLATE_OPTIONS.source_vocab_size, help='(default: %(default)s)')
  text.add_argument('--target-vocab-size', type=int, default=TRANSLATE_OPTIONS.target_vocab_size, help='(default: %(default)s)')
  text.add_argument('--min-word-count', type=positive_int_argument, default=TRANSLATE_OPTIONS.min_word_count,
                    help='words seen fewer times in the train split share the OOV id (default: %(default)s)')
  text.add_argument('--max-source-length', type=int, default=TRANSLATE_OPTIONS.max_source_length,
                    help='tokens; longer sources are truncated (default: %(default)s)')
  text.add_argument('--max-target-length', type=int, default=TRANSLATE_OPTIONS.max_target_length,
                    help='tokens; longer targets are truncated before [END], and decoding stops after this many '
                    '(default: %(default)s)')
  model = _add_training_flags(parser, TRANSLATE, 'LSTM units', 'stacked encoder and decoder layers', 'loss')
  model.add_argument('--no-reverse-source', action='store_true',
                     help='encode the source in reading order (default: backwards, which trains faster)')
  model.add_argument('--attention', choices=['none', 'luong', 'bahdanau'], default=TRANSLATE.attention,
                     help='the decoder attends over the encoder\'s outputs: luong (multiplicative) or bahdanau '
                     '(additive); none = the plain encoder-decoder (default: %(default)s)')
  model.add_argument('--beam-size', type=positive_int_argument, default=TRANSLATE.beam_size, metavar='N',
                     help='serving decodes with a beam of N hypotheses, in the graph; 1 = greedy (default: '
                     '%(default)s)')
  gate = parser.add_argument_group('blessing gate (overall eval slice)')
  gate.add_argument('--min-bleu', type=float, default=TRANSLATE_GATE.min_bleu,
                    help='corpus BLEU (0-100, case-insensitive) must exceed this (default: %(default)s)')
  gate.add_argument('--max-bleu-drop', type=float, default=TRANSLATE_GATE.max_bleu_drop,
                    help='allowed BLEU drop from the latest blessed model (default: %(default)s)')


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--root', default='runs', help='run root: pipeline outputs, metadata.sqlite, serving/, '
                      'logs/ (default: %(default)s)')
  parser.add_argument('--replicas', type=int, default=1,
                      help='MirroredStrategy replicas; on CPU the processor is split into N logical devices')
  parser.add_argument('--no-cache', action='store_true', help='re-execute every component')
  parser.add_argument('--wait', action='store_true',
                      help='if a run of the same task holds this root, wait for it instead of exiting with status 75')
  parser.add_argument('--beam-arg', action='append', default=[], metavar='ARG',
                      help='a Beam pipeline flag for every Beam component, repeatable, e.g. '
                      '--beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=2 '
                      '(default: in-memory DirectRunner, one worker)')


def _add_retraining_flags(parser: argparse.ArgumentParser) -> None:
  retraining = parser.add_argument_group('spans and retraining')
  retraining.add_argument('--spans', type=int, default=None, metavar='K',
                          help='with span-<N>/ folders under --data: train on the last K spans up to the newest, '
                          '0 = every span (default: forecast 0, sentiment and translate 1)')
  retraining.add_argument('--span', type=int, default=None, metavar='N',
                          help='read up to span N instead of the newest (re-run an earlier span)')
  retraining.add_argument('--schema', default='', metavar='FILE',
                          help='a curated schema.pbtxt every span is validated against (default: the schema '
                          'inferred in the first run whose model was blessed)')
  retraining.add_argument('--no-warm-start', action='store_true',
                          help='train from scratch instead of from the latest blessed model')
  retraining.add_argument('--keep-versions', type=int, default=5, metavar='N',
                          help='pushed model versions kept in the serving directory; the newest is never '
                          'removed (default: %(default)s)')
  retraining.add_argument('--max-categorical-drift', type=float, default=None, metavar='L_INF',
                          help='stop before training when a string feature moves more than this (L-infinity '
                          'distance) from the previous span or the served model\'s training data '
                          f'(default: forecast {gates.FORECAST_DATA_GATE.max_categorical_drift}, text tasks '
                          f'{gates.TEXT_DATA_GATE.max_categorical_drift})')
  retraining.add_argument('--max-numeric-drift', type=float, default=None, metavar='JSD',
                          help='the same for numeric features, as Jensen-Shannon divergence '
                          f'(default: forecast {gates.FORECAST_DATA_GATE.max_numeric_drift}, text tasks '
                          f'{gates.TEXT_DATA_GATE.max_numeric_drift})')


def _add_profile_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--profile', choices=('local', 'kubeflow'), default='local',
                      help='kubeflow: run the pipeline `tfx-lstm compile` builds (no resolver nodes; baseline and '
                      'warm start from the served model, no drift or skew check) to try it here (default: local)')


RUN_ID_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.:+-]*')


def run_id_argument(value: str) -> str:
  """A run id on the command line: reports are files named after run ids, so one must not name a path."""
  if value and (not RUN_ID_PATTERN.fullmatch(value) or '..' in value):  # '' is the flag's default: none given
    raise argparse.ArgumentTypeError(f'{value!r} is not a run id (letters, digits and _.:+- only, e.g. '
                                     'sentiment-20261126T082534-7921; `tfx-lstm runs` lists them)')
  return value


def version_argument(value: str) -> str:
  """A served version: a number, the name of a directory under the task's serving directory."""
  if value and not value.isdigit():
    raise argparse.ArgumentTypeError(f'{value!r} is not a version number (`tfx-lstm serving TASK` lists them)')
  return value


def positive_int_argument(value: str) -> int:
  number = int(value) if value.strip().lstrip('+').isdigit() else 0
  if number < 1:
    raise argparse.ArgumentTypeError(f'{value!r} is not a whole number of at least 1')
  return number


def _number_argument(value: str, is_valid: Callable[[float], bool], expected: str) -> float:
  try:
    number = float(value)
  except ValueError:
    number = math.nan
  if not is_valid(number):  # NaN fails every comparison
    raise argparse.ArgumentTypeError(f'{value!r} is not {expected}')
  return number


def momentum_argument(value: str) -> float:
  # 1 would keep the starting weights.
  return _number_argument(value, lambda m: 0 <= m < 1, 'a momentum from 0 (off) up to, not including, 1')


def minutes_argument(value: str) -> float:
  return _number_argument(value, lambda m: 0 <= m < math.inf, 'a number of minutes (0 or more; 0 = no limit)')


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog='tfx-lstm', description='TFX pipelines for LSTM forecasting, sentiment and translation.',
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest='command', required=True)

  run = commands.add_parser('run', help='run a task pipeline locally', epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
  run_tasks = run.add_subparsers(dest='task', required=True)
  forecast = run_tasks.add_parser('forecast', help='multivariate time-series forecasting', epilog=EXAMPLES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_run_flags(forecast)
  _add_forecast_flags(forecast)
  _add_retraining_flags(forecast)
  _add_profile_flag(forecast)
  sentiment = run_tasks.add_parser('sentiment', help='Bi-LSTM sentence classification (0/1 labels)',
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_run_flags(sentiment)
  _add_sentiment_flags(sentiment)
  _add_retraining_flags(sentiment)
  _add_profile_flag(sentiment)
  translate = run_tasks.add_parser('translate', help='encoder-decoder LSTM translation of sentence pairs',
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_run_flags(translate)
  _add_translate_flags(translate)
  _add_retraining_flags(translate)
  _add_profile_flag(translate)
  run_all = run_tasks.add_parser('all', help='every task on its bundled data, with default settings')
  _add_run_flags(run_all)

  summary_parser = commands.add_parser('summary', help="print a run's summary from ML Metadata", epilog=EXAMPLES,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
  summary_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  summary_parser.add_argument('--task', choices=TASKS, help='the latest run of this task (without --run)')
  summary_parser.add_argument('--run', default='', type=run_id_argument, metavar='RUN_ID',
                              help='a run id, as `tfx-lstm run` prints it (e.g. forecast-20261126T101500-3fa2)')

  report_parser = commands.add_parser(
      'report', help="write a run's HTML report (or two runs side by side) from ML Metadata", epilog=EXAMPLES,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  report_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  report_parser.add_argument('--task', choices=TASKS, help='the latest run of this task (without --run)')
  report_parser.add_argument('--run', default='', type=run_id_argument, metavar='RUN_ID', help='the run to report on')
  report_parser.add_argument('--compare', nargs=2, type=run_id_argument, metavar=('RUN_A', 'RUN_B'),
                             help='two runs of one task side by side (hyperparameters, data, metrics per slice)')
  report_parser.add_argument('--output', default='', metavar='FILE',
                             help='where to write the HTML (default: <root>/reports/<run id>.html)')
  runs_parser = commands.add_parser('runs', help='list past runs, newest first', epilog=EXAMPLES,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
  runs_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  runs_parser.add_argument('--task', choices=TASKS, help='only runs of this task')

  schedule_parser = commands.add_parser(
      'schedule', help='retrain a task on a cron schedule when new data arrives (runs until SIGTERM)',
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  schedule_tasks = schedule_parser.add_subparsers(dest='task', required=True)
  airflow_parser = commands.add_parser(
      'airflow-dag', help='write an Apache Airflow DAG file for a task (TFX AirflowDagRunner)', epilog=EXAMPLES,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  airflow_tasks = airflow_parser.add_subparsers(dest='task', required=True)
  for name, add_flags in (('forecast', _add_forecast_flags), ('sentiment', _add_sentiment_flags),
                          ('translate', _add_translate_flags)):
    task_parser = schedule_tasks.add_parser(name, help=f'the {name} task, with the flags of `run {name}`')
    task_parser.add_argument('--cron', required=True, help='5-field cron expression in UTC: minute hour day month '
                             'weekday, e.g. "0 3 * * *" for 03:00 every day')
    task_parser.add_argument('--state-file', default='', help='where the last attempted data is remembered '
                             '(default: <root>/schedules/<task>.json)')
    _add_run_flags(task_parser)
    add_flags(task_parser)
    _add_retraining_flags(task_parser)
    dag_parser = airflow_tasks.add_parser(name, help=f'the {name} task, with the flags of `run {name}`')
    dag_parser.add_argument('--output', required=True, metavar='FILE', help='the DAG file to write (.py)')
    dag_parser.add_argument('--cron', default='', help='Airflow schedule, a 5-field cron expression '
                            '(default: none, triggered by hand)')
    _add_run_flags(dag_parser)
    add_flags(dag_parser)
    _add_retraining_flags(dag_parser)
  kubeflow_parser = commands.add_parser(
      'kubeflow-schedule', help='write a Kubeflow Pipelines recurring-run body beside a compiled pipeline spec',
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  kubeflow_parser.add_argument('pipeline_json', help='a pipeline spec compiled for KFP v2 (KubeflowV2DagRunner)')
  kubeflow_parser.add_argument('--cron', required=True, help='5-field cron expression, e.g. "0 3 * * *" '
                               '(written in KFP\'s 6-field form, seconds first)')
  kubeflow_parser.add_argument('--output', default='', metavar='FILE',
                               help='default: <pipeline name>-recurring-run.json beside the spec')

  compile_parser = commands.add_parser(
      'compile', help='compile a task pipeline for Kubeflow Pipelines v2 / Vertex AI (KubeflowV2DagRunner)',
      epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  compile_tasks = compile_parser.add_subparsers(dest='task', required=True)
  for name, add_flags in (('forecast', _add_forecast_flags), ('sentiment', _add_sentiment_flags),
                          ('translate', _add_translate_flags)):
    task_parser = compile_tasks.add_parser(name, help=f'the {name} task, with the task flags of `run {name}`')
    kfp = task_parser.add_argument_group('Kubeflow')
    kfp.add_argument('--output', required=True, metavar='FILE', help='pipeline.yaml: the KFP pipeline spec '
                     '(schema 2.1); pipeline.json: the Vertex AI PipelineJob form')
    kfp.add_argument('--image', default='tfx-lstm:latest', help='container image with this project installed '
                     '(the Dockerfile; default: %(default)s)')
    kfp.add_argument('--pipeline-root', required=True, metavar='URI',
                     help='component outputs, on storage every step reaches (gs://bucket/tfx-lstm, say)')
    kfp.add_argument('--serving', default='', metavar='URI',
                     help='where blessed models are pushed (default: <pipeline-root>/serving/<task>)')
    kfp.add_argument('--data-sample', default='', metavar='DIR',
                     help='a local copy of some of --data\'s files, laid out the same way: checked here when '
                     '--data is remote (default: --data itself)')
    kfp.add_argument('--beam-arg', action='append', default=[], metavar='ARG',
                     help='a Beam pipeline flag for the Beam steps, repeatable (e.g. Dataflow\'s, see README)')
    add_flags(task_parser)
    _add_retraining_flags(task_parser)
  serving_parser = commands.add_parser('serving', help="list a task's pushed model versions", epilog=EXAMPLES,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
  serving_parser.add_argument('task', choices=TASKS)
  serving_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  rollback_parser = commands.add_parser(
      'rollback', help='serve an earlier version again (pushed anew as the newest version)', epilog=EXAMPLES,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  rollback_parser.add_argument('task', choices=TASKS)
  rollback_parser.add_argument('--root', default='runs', help='run root (default: %(default)s)')
  rollback_parser.add_argument('--to', default='', type=version_argument, metavar='VERSION',
                               help='the version to serve (default: the one pushed before the served model)')
  rollback_parser.add_argument('--keep-versions', type=int, default=5, metavar='N',
                               help='versions kept after the rollback (default: %(default)s)')

  predict = commands.add_parser('predict', help='query a pushed model', epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
  predict_tasks = predict.add_subparsers(dest='task', required=True)
  predict_forecast_parser = predict_tasks.add_parser('forecast', help='forecast after the last window(s) of a CSV')
  predict_forecast_parser.add_argument('--model', required=True,
                                       help='pushed model version directory, or the serving root of the task')
  predict_forecast_parser.add_argument('--input', required=True, help='CSV with the columns the model was trained on')
  predict_forecast_parser.add_argument('--last', type=int, default=1, help='forecast from the last N windows')
  predict_sentiment_parser = predict_tasks.add_parser('sentiment', help='P(positive) of each sentence')
  predict_sentiment_parser.add_argument('--model', required=True,
                                        help='pushed model version directory, or the serving root of the task')
  predict_sentiment_parser.add_argument('sentences', nargs='+', help='raw sentences')
  predict_translate_parser = predict_tasks.add_parser('translate', help='translate source sentences')
  predict_translate_parser.add_argument('--model', required=True,
                                        help='pushed model version directory, or the serving root of the task')
  predict_translate_parser.add_argument('sentences', nargs='+', help='raw source sentences')
  return parser


def run_all_argvs(args) -> List[List[str]]:
  """`run all`: one `run <task>` per task, with the run flags `all` was given and every task's own defaults."""
  common = (['--root', args.root, '--replicas', str(args.replicas)] + (['--no-cache'] if args.no_cache else [])
            + (['--wait'] if args.wait else []) + [f'--beam-arg={arg}' for arg in args.beam_arg])
  return [['run', name, *common] for name in TASKS]


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  if args.command not in ('run', 'schedule'):  # no log file here: keep TensorFlow's start-up chatter off the console
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
    import warnings  # pylint: disable=g-import-not-at-top
    warnings.filterwarnings('ignore', category=FutureWarning)
    logging.getLogger('tensorflow').setLevel(logging.ERROR)  # TFMA's loaders log deprecation warnings
  try:
    if args.command == 'run':
      if args.task != 'all':
        return run_task(args.task, args)
      for argv in run_all_argvs(args):  # each task with its own defaults
        status = run_task(argv[1], build_parser().parse_args(argv))
        if status:
          return status
      return 0
    if args.command == 'schedule':
      return schedule(args, argv if argv is not None else sys.argv[1:])
    if args.command == 'airflow-dag':
      return airflow_dag(args, argv if argv is not None else sys.argv[1:])
    commands = {'summary': summary, 'report': report, 'runs': runs, 'serving': serving, 'rollback': rollback,
                'kubeflow-schedule': kubeflow_schedule, 'compile': compile_kubeflow, 'predict': predict}
    return commands[args.command](args)
  except KeyboardInterrupt:
    print('interrupted: nothing more was run (a run interrupted mid-way is marked abandoned by the next run)',
          file=sys.stderr)
    return EXIT_INTERRUPTED
  except Exception as e:  # pylint: disable=broad-except
    message = str(e) if isinstance(e, UserError) else _user_message(e)
    if message is None:
      return _unexpected_failure(e, getattr(args, 'root', None))
    print(f'error: {message}', file=sys.stderr)
    return EXIT_USER_ERROR


def _cause(error: BaseException) -> str:
  """`Type: first line of the message` (at most 300 characters of it): one console line for any error."""
  line = (str(error).splitlines() or [''])[0]
  return f'{type(error).__name__}: ' + (line if len(line) <= 300 else line[:300] + ' ...')


def _unexpected_failure(error: BaseException, root: Optional[str]) -> int:
  """A failure nobody foresaw: one line of cause on the console, the traceback in a log file, exit 1. A user
  never sees a traceback."""
  import tempfile  # pylint: disable=g-import-not-at-top
  import traceback  # pylint: disable=g-import-not-at-top
  stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%S')
  text = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
  log_path = None
  for directory in ([os.path.join(os.path.abspath(root), 'logs')] if root else []) + [tempfile.gettempdir()]:
    try:
      os.makedirs(directory, exist_ok=True)
      log_path = os.path.join(directory, f'tfx-lstm-error-{stamp}-{secrets.token_hex(2)}.log')
      with open(log_path, 'w', encoding='utf-8') as f:
        f.write(text)
      break
    except OSError:
      log_path = None
  print(f'error: unexpected {_cause(error)}\n  '
        + (f'traceback: {log_path}' if log_path else 'the traceback could not be saved (no writable directory for '
           'its log)'), file=sys.stderr)
  return EXIT_FAILED


def entry() -> None:
  """Console-script entry point."""
  status = main()
  sys.stdout.flush()
  sys.stderr.flush()
  # Skip interpreter teardown: TensorFlow's function destructors print harmless tracebacks during it.
  os._exit(status)  # pylint: disable=protected-access


if __name__ == '__main__':
  entry()
