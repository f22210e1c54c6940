"""The `tfx-lstm` command: run a task's pipeline locally, or query a pushed model."""
import argparse
import contextlib
import dataclasses
import datetime
import glob
import logging
import os
import sys
import time
from typing import List, Optional

# DESIGN §4: tf_keras everywhere. This must be set before TensorFlow is imported anywhere in the process.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from pipeline import hyperparameters as hyperparameters_module  # noqa: E402  (dataclasses only: cheap)

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_FORECAST_DATA = os.path.join(PACKAGE_ROOT, 'data', 'beijing_pm25')
BUNDLED_SENTIMENT_DATA = os.path.join(PACKAGE_ROOT, 'data', 'sst2')
BUNDLED_TRANSLATE_DATA = os.path.join(PACKAGE_ROOT, 'data', 'fra_eng')
TASKS = ('forecast', 'sentiment', 'translate')
FORECAST, FORECAST_GATE = hyperparameters_module.ForecastHyperparameters(), hyperparameters_module.ForecastGate()
SENTIMENT, SENTIMENT_GATE = hyperparameters_module.SentimentHyperparameters(), hyperparameters_module.SentimentGate()
TRANSLATE, TRANSLATE_GATE = hyperparameters_module.TranslateHyperparameters(), hyperparameters_module.TranslateGate()

EXAMPLES = """\
examples:
  tfx-lstm run forecast                         # bundled Beijing PM2.5 sample, next-hour pm2.5 from 24 h
  tfx-lstm run forecast --data my_csvs/ --time-column date --target load --series-column meter \\
      --window 48 --horizon 6 --epochs 10 --replicas 2
  tfx-lstm run forecast --eval-start 2014-07-01 --test-start 2014-10-01 --gap-policy fail
  tfx-lstm run sentiment                        # bundled SST-2 sample: Bi-LSTM, vocabulary built in Transform
  tfx-lstm run sentiment --data reviews/ --text-column review --label-column positive --slice-columns product
  tfx-lstm run translate                        # bundled Tatoeba English-French sample, split by English sentence
  tfx-lstm run translate --data fra-eng/ --pattern 'fra.txt' --units 512 --layers 2 --dropout 0.2 --epochs 20
  tfx-lstm run all                              # every task on its bundled data
  tfx-lstm predict forecast --model runs/serving/forecast --input data/beijing_pm25/beijing_pm25_2013_2014.csv
  tfx-lstm predict sentiment --model runs/serving/sentiment "a gripping , beautifully acted film ."
  tfx-lstm predict translate --model runs/serving/translate "I am hungry." "Where is the station?"
"""


class UserError(Exception):
  """A problem the user can fix; printed without a traceback."""


# ----------------------------------------------------------------------------------------------------
# Output: one progress line per component on the console, everything else in a log file.

class ProgressPrinter(logging.Handler):
  """Turns the orchestrator's 'Component X is running/finished' log records into one line per component."""

  def __init__(self, console, total: int):
    super().__init__(logging.INFO)
    self._console, self._total = console, total
    self._count, self._started, self._cached = 0, 0.0, False

  def emit(self, record: logging.LogRecord) -> None:
    message = record.msg
    if message == 'Component %s is running.':
      self._count += 1
      self._started, self._cached = time.time(), False
      self._node = record.args[0]
      self._console.write(f'  [{self._count:2d}/{self._total}] {self._node:<26} ')
      self._console.flush()
    elif message == 'A cached execution %d is used.':
      self._cached = True
    elif message == 'Component %s is finished.':
      status = 'cached' if self._cached else 'done'
      self._console.write(f'{status:<7}{time.time() - self._started:6.1f}s\n')
      self._console.flush()


@contextlib.contextmanager
def console_and_log(log_path: str):
  """Sends fd 1/2 (TF, Beam, absl, warnings) to `log_path`; yields (stdout, stderr) of the real console."""
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  saved_out, saved_err = os.dup(1), os.dup(2)
  console = os.fdopen(os.dup(1), 'w', buffering=1)
  console_err = os.fdopen(os.dup(2), 'w', buffering=1)
  log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
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
  from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, DataContractError):
      return str(error)
    error = error.__cause__ or error.__context__
  return None


# ----------------------------------------------------------------------------------------------------
# run

def _forecast_task(args):
  from components.windowing import WindowConfig  # pylint: disable=g-import-not-at-top
  from pipeline import data_contract, tasks  # pylint: disable=g-import-not-at-top
  features = [f.strip() for f in args.features.split(',') if f.strip()] if args.features else None
  columns = data_contract.check_forecast_data(args.data, args.time_column, args.target, features,
                                              args.series_column)
  window_config = WindowConfig(
      time_column=args.time_column, target=args.target, numeric_features=tuple(columns.numeric_features),
      categorical_features=tuple(columns.categorical_features), series_column=args.series_column,
      window=args.window, horizon=args.horizon, step_seconds=args.step_seconds, eval_start=args.eval_start,
      test_start=args.test_start, eval_fraction=args.eval_fraction, test_fraction=args.test_fraction,
      gap_policy=args.gap_policy)
  hyperparameters = _from_args(hyperparameters_module.ForecastHyperparameters, args, residual=not args.no_residual)
  gate = _from_args(hyperparameters_module.ForecastGate, args)
  described = (f'{columns.rows:,} rows in {len(columns.files)} file(s) of {args.data}; target {args.target!r}, '
               f'numeric {", ".join(columns.numeric_features)}'
               + (f'; categorical {", ".join(columns.categorical_features)}' if columns.categorical_features else ''))
  return tasks.forecast_task(window_config, hyperparameters, gate), described


def _sentiment_task(args):
  from components.text_example_gen import TextFormat, check_files  # pylint: disable=g-import-not-at-top
  from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(args.data):
    raise DataContractError(f'data directory {args.data} does not exist')
  files = sorted(f for f in os.listdir(args.data) if not f.startswith('.') and os.path.isfile(
      os.path.join(args.data, f)) and not f.lower().startswith(('readme', 'license')))
  train = [f for f in files if f.startswith('train')]
  held_out = [f for f in files if f.startswith(('dev', 'eval'))]
  if train and held_out:  # the data comes split: keep its split
    eval_prefix = 'dev' if held_out[0].startswith('dev') else 'eval'
    input_splits, hash_splits, used = (('train', 'train*'), ('eval', f'{eval_prefix}*')), (), train + held_out
    layout = f'train {", ".join(train)}; eval {", ".join(held_out)}'
  else:  # one pool of files with the delimiter's extension: hash-split 90/10
    extension = '.csv' if args.delimiter == ',' else '.tsv'
    used = [f for f in files if f.endswith(extension)]
    input_splits, hash_splits = (('all', f'*{extension}'),), (('train', 9), ('eval', 1))
    layout = f'{len(used)} *{extension} file(s), hash split 90/10 into train/eval'
    if any(f.startswith('test') for f in used):
      raise DataContractError(f'{args.data} has test* files but no dev*/eval* file: name the held-out file dev*, '
                              'or move the test files out (they would be mixed into training)')
  if not used:
    raise DataContractError(f"no train*/dev* files and no files with the delimiter's extension in {args.data}")
  slice_columns = tuple(c.strip() for c in args.slice_columns.split(',') if c.strip())
  delimiter = {'\\t': '\t', 'tab': '\t'}.get(args.delimiter, args.delimiter)  # lets users type \t
  if not delimiter:
    raise DataContractError('--delimiter must not be empty')
  text_format = TextFormat(columns=(args.text_column, args.label_column, *slice_columns), delimiter=delimiter,
                           int_columns=(args.label_column,), allowed_values={args.label_column: (0, 1)},
                           non_empty=(args.text_column,))
  rows = check_files([os.path.join(args.data, f) for f in used], text_format)
  hyperparameters = _from_args(hyperparameters_module.SentimentHyperparameters, args)
  task = tasks.sentiment_task(input_splits, hash_splits, args.text_column, args.label_column, delimiter,
                              slice_columns, hyperparameters,
                              _from_args(hyperparameters_module.SentimentGate, args))
  return task, f'{rows:,} labelled sentences in {args.data} ({layout})'


def _translate_task(args):
  from components.text_example_gen import check_files  # pylint: disable=g-import-not-at-top
  from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(args.data):
    raise DataContractError(f'data directory {args.data} does not exist')
  files = sorted(f for f in glob.glob(os.path.join(args.data, args.pattern)) if os.path.isfile(f))
  if not files:
    raise DataContractError(f'no files match {args.pattern!r} in {args.data}')
  if args.max_source_length < 1 or args.max_target_length < 1:
    raise DataContractError('--max-source-length and --max-target-length must be at least 1')
  hyperparameters = _from_args(hyperparameters_module.TranslateHyperparameters, args,
                               reverse_source=not args.no_reverse_source)
  task = tasks.translate_task(args.pattern, args.max_line_chars, hyperparameters,
                              _from_args(hyperparameters_module.TranslateGate, args))
  pairs = check_files(files, task.text_format)
  names = ', '.join(os.path.basename(f) for f in files[:3]) + (f' and {len(files) - 3} more' if len(files) > 3 else '')
  return task, f'{pairs:,} sentence pairs in {names} ({args.data}); hash split 90/10 by source sentence'


def run_task(task_name: str, args) -> int:
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  log_path = os.path.join(os.path.abspath(args.root), 'logs', f'{task_name}-{stamp}.log')
  started = time.time()
  with console_and_log(log_path) as (console, console_err):
    # Imported here so their import-time warnings land in the log, not on the console.
    from components.windowing import DataContractError  # pylint: disable=g-import-not-at-top
    from pipeline import local_runner  # pylint: disable=g-import-not-at-top
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    from trainer.common import split_cpu  # pylint: disable=g-import-not-at-top
    split_cpu(args.replicas)  # before TensorFlow initialises its devices
    paths = local_runner.RunPaths.under(args.root, task_name)
    try:
      task, described = {'forecast': _forecast_task, 'sentiment': _sentiment_task,
              'translate': _translate_task}[task_name](args)
    except DataContractError as e:
      console_err.write(f'error: {e}\nnothing was run.\n')
      return 2
    console.write(f'tfx-lstm {task_name}: {described}\n  full log: {log_path}\n')
    pipeline = local_runner.build_local_pipeline(task, args.data, paths, enable_cache=not args.no_cache)
    progress = ProgressPrinter(console, total=len(pipeline.components))
    logging.getLogger('absl').addHandler(progress)
    try:
      tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('pipeline failed')
      message = _user_message(e) or (
          f'{type(e).__name__}: {(str(e).splitlines() or [""])[0]}\n  see the full log: {log_path}')
      console.write('FAILED\n')
      console_err.write(f'error: {message}\nnothing was pushed.\n')
      return 1
    finally:
      logging.getLogger('absl').removeHandler(progress)
    console.write(f'pipeline finished in {time.time() - started:.0f}s\n')
    from pipeline.summary import print_summary  # pylint: disable=g-import-not-at-top
    with contextlib.redirect_stdout(console):
      print_summary(task_name, paths, local_runner.pipeline_name(task))
  return 0


# ----------------------------------------------------------------------------------------------------
# predict

def resolve_model_dir(path: str) -> str:
  """A SavedModel directory, or a serving root whose newest numeric version is used."""
  if os.path.exists(os.path.join(path, 'saved_model.pb')):
    return path
  versions = sorted((int(d) for d in os.listdir(path) if d.isdigit()), reverse=True) if os.path.isdir(path) else []
  if not versions:
    raise UserError(f'{path} is neither a SavedModel nor a directory of pushed model versions')
  return os.path.join(path, str(versions[0]))


def predict(args) -> int:
  from trainer.common import read_model_metadata  # pylint: disable=g-import-not-at-top
  model_dir = resolve_model_dir(args.model)
  try:
    model_task = read_model_metadata(model_dir).get('task')
  except FileNotFoundError as e:
    raise UserError(str(e)) from None
  if model_task != args.task:
    raise UserError(f'{model_dir} is a {model_task} model, not a {args.task} model')
  if args.task == 'forecast':
    from pipeline.forecast_predict import forecast_csv  # pylint: disable=g-import-not-at-top
    if args.last < 1:
      raise UserError('--last must be at least 1')
    lines = forecast_csv(model_dir, args.input, args.last)
  elif args.task == 'sentiment':
    from pipeline.text_predict import classify  # pylint: disable=g-import-not-at-top
    lines = classify(model_dir, args.sentences)
  else:
    from pipeline.text_predict import translate  # pylint: disable=g-import-not-at-top
    lines = translate(model_dir, args.sentences)
  for line in lines:
    print(line)
  return 0


# ----------------------------------------------------------------------------------------------------
# argument parsing

def _add_training_flags(parser: argparse.ArgumentParser, defaults, units_help: str, layers_help: str,
                        early_stopping_metric: str = ''):
  """The model and training flags every task has, defaulting to `defaults` (a pipeline.hyperparameters
  dataclass); returns the group for task-specific flags."""
  model = parser.add_argument_group('model and training')
  if hasattr(defaults, 'embedding_dim'):
    model.add_argument('--embedding-dim', type=int, default=defaults.embedding_dim, help='(default: %(default)s)')
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
  return model


def _from_args(cls, args, **overrides):
  """A pipeline.hyperparameters dataclass from the parsed flags of the same names (plus `overrides`)."""
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
                       help='drop windows that would span a gap in time (default), or stop at the first gap')
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
  data.add_argument('--delimiter', default='\\t', help="field separator, no quoting; \\t or 'tab' for a tab "
                    '(default: tab; a pool of files is read as *.tsv, or *.csv with a comma)')
  data.add_argument('--slice-columns', default='', help='comma list of columns to report metrics by')
  text = parser.add_argument_group('vocabulary')
  text.add_argument('--vocab-size', type=int, default=SENTIMENT.vocab_size, help='most frequent tokens kept (default: %(default)s)')
  text.add_argument('--max-length', type=int, default=SENTIMENT.max_length, help='tokens per sentence, longer ones are truncated '
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
  text.add_argument('--source-vocab-size', type=int, default=TRANSLATE.source_vocab_size, help='(default: %(default)s)')
  text.add_argument('--target-vocab-size', type=int, default=TRANSLATE.target_vocab_size, help='(default: %(default)s)')
  text.add_argument('--max-source-length', type=int, default=TRANSLATE.max_source_length,
                    help='tokens; longer sources are truncated (default: %(default)s)')
  text.add_argument('--max-target-length', type=int, default=TRANSLATE.max_target_length,
                    help='tokens; longer targets are truncated before [END], and decoding stops after this many '
                    '(default: %(default)s)')
  model = _add_training_flags(parser, TRANSLATE, 'LSTM units', 'stacked encoder and decoder layers', 'loss')
  model.add_argument('--no-reverse-source', action='store_true',
                     help='encode the source in reading order (default: backwards, which trains faster)')
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
  sentiment = run_tasks.add_parser('sentiment', help='Bi-LSTM sentence classification (0/1 labels)',
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_run_flags(sentiment)
  _add_sentiment_flags(sentiment)
  translate = run_tasks.add_parser('translate', help='encoder-decoder LSTM translation of sentence pairs',
                                   epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_run_flags(translate)
  _add_translate_flags(translate)
  run_all = run_tasks.add_parser('all', help='every task on its bundled data, with default settings')
  _add_run_flags(run_all)

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


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  if args.command == 'predict':  # no log file here: keep TensorFlow's start-up chatter off the console
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
    import warnings  # pylint: disable=g-import-not-at-top
    warnings.filterwarnings('ignore', category=FutureWarning)
  try:
    if args.command == 'run':
      if args.task != 'all':
        return run_task(args.task, args)
      common = ['--root', args.root, '--replicas', str(args.replicas)] + (['--no-cache'] if args.no_cache else [])
      for name in TASKS:  # each task with its own defaults
        status = run_task(name, build_parser().parse_args(['run', name, *common]))
        if status:
          return status
      return 0
    return predict(args)
  except Exception as e:  # pylint: disable=broad-except
    message = str(e) if isinstance(e, UserError) else _user_message(e)
    if message is None:
      raise
    print(f'error: {message}', file=sys.stderr)
    return 2



def entry() -> None:
  """Console-script entry point."""
  status = main()
  sys.stdout.flush()
  sys.stderr.flush()
  # Skip interpreter teardown: TensorFlow's function destructors print harmless tracebacks during it.
  os._exit(status)  # pylint: disable=protected-access


if __name__ == '__main__':
  entry()
