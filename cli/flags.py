"""The flags commands share: each task's data, model and gate flags, the run and retraining flags, and the
checked argument types. Defaults come from the dataclasses the pipeline reads (trainer/hyperparameters.py,
preprocessing/options.py, pipeline/gates.py), so a flag's default is the pipeline's."""
import argparse
import dataclasses
import math
import os
import re
from typing import Callable

from pipeline import gates
from preprocessing import options as preprocessing_options
from trainer import hyperparameters as trainer_hyperparameters

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLED_DATA = {task: os.path.join(PACKAGE_ROOT, 'data', folder) for task, folder in (
    ('forecast', 'beijing_pm25'), ('sentiment', 'sst2'), ('translate', 'fra_eng'))}
FORECAST = trainer_hyperparameters.ForecastHyperparameters()
SENTIMENT = trainer_hyperparameters.SentimentHyperparameters()
SENTIMENT_OPTIONS = preprocessing_options.SentimentOptions()
TRANSLATE = trainer_hyperparameters.TranslateHyperparameters()
TRANSLATE_OPTIONS = preprocessing_options.TranslateOptions()
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


def parser_with_examples(commands, name: str, **kwargs) -> argparse.ArgumentParser:
  """A subcommand whose --help ends with the examples."""
  return commands.add_parser(name, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def add_training_flags(parser: argparse.ArgumentParser, defaults, units_help: str, layers_help: str,
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
  model.add_argument('--cache-budget-mb', type=non_negative_int_argument, default=defaults.cache_budget_mb,
                     metavar='MB', help='keep a split\'s transformed examples in memory after the first epoch when '
                     'they take at most MB serialized; a larger split is read from its files every epoch (default: '
                     '%(default)s)')
  tuning = parser.add_argument_group('hyperparameter search (TFX Tuner before the Trainer)')
  tuning.add_argument('--tune', action='store_true',
                      help='search the task\'s space (units, layers, dropout, learning rate, batch size'
                      + (', loss' if hasattr(defaults, 'huber_delta') else '') + '); the Trainer then trains with '
                      'the best trial\'s values, which replace the flags of the same names')
  tuning.add_argument('--trials', type=positive_int_argument, default=10, metavar='N',
                      help='with --tune (default: %(default)s)')
  tuning.add_argument('--tune-minutes', type=minutes_argument, default=0, metavar='M',
                      help='with --tune: start no trial after M minutes (the first always runs); 0 = no limit '
                      '(default: %(default)s)')
  return model


# What each gate's thresholds mean (pipeline/gates.py holds their defaults).
GATE_HELP = {
    'min_skill': '1 - MAE/persistence MAE must exceed this',
    'max_mae_increase': 'allowed MAE increase over the latest blessed model',
    'min_auc': 'AUC must exceed this',
    'max_auc_drop': 'allowed AUC drop from the latest blessed model',
    'min_bleu': 'corpus BLEU (0-100, case-insensitive) must exceed this',
    'max_bleu_drop': 'allowed BLEU drop from the latest blessed model',
}


def add_gate_flags(parser: argparse.ArgumentParser, gate) -> None:
  """A flag per threshold of `gate` (a dataclass of pipeline/gates.py), defaulting to its value."""
  group = parser.add_argument_group('blessing gate (overall eval slice)')
  for field in dataclasses.fields(gate):
    group.add_argument('--' + field.name.replace('_', '-'), type=float, default=getattr(gate, field.name),
                       help=f'{GATE_HELP[field.name]} (default: %(default)s)')


def add_forecast_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_DATA['forecast'], help='directory of CSV files with a header '
                    '(default: the bundled Beijing PM2.5 sample)')
  data.add_argument('--time-column', default='datetime', help='timestamp or date column (default: %(default)s)')
  data.add_argument('--target', default='pm2.5', help='numeric column to forecast (default: %(default)s)')
  data.add_argument('--features', default='', help='comma list of input columns (default: all other columns; '
                    'non-numeric ones are categorical). The target history is always an input.')
  data.add_argument('--series-column', default='', help='column naming the series, for several series per file')
  windows = parser.add_argument_group('windows and splits')
  windows.add_argument('--window', type=int, default=24, help='lookback W in steps (default: %(default)s)')
  windows.add_argument('--horizon', type=int, default=1,
                       help='forecast H steps after the window (default: %(default)s)')
  windows.add_argument('--step-seconds', type=int, default=0, help='sampling step (default: the most common spacing)')
  windows.add_argument('--gap-policy', choices=['drop', 'fail'], default='drop',
                       help='drop windows that would span a gap in time (default), or stop at the first gap; '
                       'a gap longer than --max-gap-steps stops the run either way')
  windows.add_argument('--max-gap-steps', type=int, default=None,
                       help='a gap of more missing time steps than this within one file (per series) is an error '
                       'before anything runs, whatever --gap-policy says; 0: any gap (default: --window)')
  windows.add_argument('--eval-start', default='', help='first timestamp of the eval split (default: by fraction)')
  windows.add_argument('--test-start', default='', help='first timestamp of the test split (default: by fraction)')
  for split in ('eval', 'test'):
    windows.add_argument(f'--{split}-fraction', type=float, default=0.1,
                         help='share of the time range (default: %(default)s)')
  model = add_training_flags(parser, FORECAST, 'LSTM units', 'stacked LSTM layers')
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
  add_gate_flags(parser, FORECAST_GATE)


def add_sentiment_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_DATA['sentiment'],
                    help='directory of delimited files with a header; train*/dev* (or eval*) files are used as '
                    'the splits, any other layout is hash-split 90/10 (default: the bundled SST-2 sample)')
  data.add_argument('--text-column', default='text', help='(default: %(default)s)')
  data.add_argument('--label-column', default='label', help='0/1 labels (default: %(default)s)')
  data.add_argument('--delimiter', default=None,
                    help="field separator: ',' (CSV quoting rules), '\\t' or 'tab' (no quoting), or another "
                    'character (no quoting) (default: by extension: .csv comma-separated, otherwise tab)')
  data.add_argument('--slice-columns', default='', help='comma list of columns to report metrics by')
  text = parser.add_argument_group('vocabulary')
  text.add_argument('--vocab-size', type=int, default=SENTIMENT_OPTIONS.vocab_size,
                    help='most frequent tokens kept (default: %(default)s)')
  text.add_argument('--max-length', type=int, default=SENTIMENT_OPTIONS.max_length,
                    help='tokens per sentence, longer ones are truncated (default: %(default)s)')
  model = add_training_flags(parser, SENTIMENT, 'LSTM units per direction', 'stacked Bi-LSTM layers', 'AUC')
  model.add_argument('--pooling', choices=['last', 'max'], default=SENTIMENT.pooling,
                     help="sentence vector: the Bi-LSTM's final states or the max over time (default: %(default)s)")
  add_gate_flags(parser, SENTIMENT_GATE)


def add_translate_flags(parser: argparse.ArgumentParser) -> None:
  data = parser.add_argument_group('data')
  data.add_argument('--data', default=BUNDLED_DATA['translate'],
                    help='directory of tab-separated pair files, no header: source<TAB>target[<TAB>ignored...] '
                    '(default: the bundled Tatoeba English-French sample)')
  data.add_argument('--pattern', default='*.txt', help='which files of --data to read (default: %(default)s)')
  data.add_argument('--max-line-chars', type=int, default=1000,
                    help='a longer line is an error, not a sentence pair (default: %(default)s)')
  text = parser.add_argument_group('vocabularies and lengths')
  for side in ('source', 'target'):
    text.add_argument(f'--{side}-vocab-size', type=int, default=getattr(TRANSLATE_OPTIONS, f'{side}_vocab_size'),
                      help='(default: %(default)s)')
  text.add_argument('--min-word-count', type=positive_int_argument, default=TRANSLATE_OPTIONS.min_word_count,
                    help='words seen fewer times in the train split share the OOV id (default: %(default)s)')
  text.add_argument('--max-source-length', type=int, default=TRANSLATE_OPTIONS.max_source_length,
                    help='tokens; longer sources are truncated (default: %(default)s)')
  text.add_argument('--max-target-length', type=int, default=TRANSLATE_OPTIONS.max_target_length,
                    help='tokens; longer targets are truncated before [END], and decoding stops after this many '
                    '(default: %(default)s)')
  model = add_training_flags(parser, TRANSLATE, 'LSTM units', 'stacked encoder and decoder layers', 'loss')
  model.add_argument('--no-reverse-source', action='store_true',
                     help='encode the source in reading order (default: backwards, which trains faster)')
  model.add_argument('--attention', choices=['none', 'luong', 'bahdanau'], default=TRANSLATE.attention,
                     help='the decoder attends over the encoder\'s outputs: luong (multiplicative) or bahdanau '
                     '(additive); none = the plain encoder-decoder (default: %(default)s)')
  model.add_argument('--beam-size', type=positive_int_argument, default=TRANSLATE.beam_size, metavar='N',
                     help='serving decodes with a beam of N hypotheses, in the graph; 1 = greedy (default: '
                     '%(default)s)')
  add_gate_flags(parser, TRANSLATE_GATE)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
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
  parser.add_argument('--beam-workers', type=non_negative_int_argument, default=0, metavar='N',
                      help='run the Beam steps as a cluster runs them: through a Beam job service and N SDK worker '
                      'processes, started on this machine for the run and stopped after it (PortableRunner, '
                      'EXTERNAL environment; docs/kubeflow.md); 0 = in this process (default: %(default)s)')


def add_retraining_flags(parser: argparse.ArgumentParser) -> None:
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


def add_profile_flag(parser: argparse.ArgumentParser) -> None:
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


def non_negative_int_argument(value: str) -> int:
  if not value.strip().lstrip('+').isdigit():
    raise argparse.ArgumentTypeError(f'{value!r} is not a whole number of at least 0')
  return int(value)


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
