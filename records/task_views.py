"""The task-specific part of a run's report, from the EvalPredictions artifact (each eval example beside the
candidate's answer) and the ForecastTestScore artifact: forecast against actual and persistence over time and
error by hour and month; a confusion matrix, reliability plot and the most confident mistakes; translations with
their sentence BLEU, the best and the worst."""
import dataclasses
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from components.eval_predictions import PREDICTION_COLUMN
from components.window_config import LABEL_KEY
from components.window_config import PERSISTENCE_KEY
from components.window_config import SERIES_KEY
from components.window_config import TARGET_TIMESTAMP_KEY
from records import plots

ROWS_SHOWN = 10


@dataclasses.dataclass
class Table:
  title: str
  columns: List[str]
  rows: List[List[object]]
  note: str = ''


@dataclasses.dataclass
class TaskView:
  figures: List[Dict[str, str]] = dataclasses.field(default_factory=list)  # {'title', 'uri'}
  tables: List[Table] = dataclasses.field(default_factory=list)
  notes: List[str] = dataclasses.field(default_factory=list)

  def figure(self, title: str, uri: str) -> None:
    self.figures.append({'title': title, 'uri': uri})


def forecast_view(predictions: Dict[str, Dict[str, list]], target: str) -> TaskView:
  view = TaskView()
  for split in ('eval', 'test'):
    frame = pd.DataFrame(predictions.get(split, {}))
    if frame.empty:
      view.notes.append(f'no {split} windows were predicted.')
      continue
    frame['time'] = pd.to_datetime(frame[TARGET_TIMESTAMP_KEY], unit='s')
    series = frame[SERIES_KEY].dropna().unique() if SERIES_KEY in frame else []
    shown = frame[frame[SERIES_KEY] == series[0]] if len(series) > 1 else frame
    which = f' (series {series[0]}, the first of {len(series)})' if len(series) > 1 else ''
    shown = shown.sort_values('time')
    view.figure(f'{split}: forecast vs actual vs persistence{which}',
                plots.forecast_over_time(shown['time'].values, shown[LABEL_KEY], shown[PREDICTION_COLUMN],
                                         shown[PERSISTENCE_KEY], f'{target}, {split} windows'))
    for name, errors in errors_by_period(frame).items():
      view.figure(f'{split}: mean absolute error by {name}',
                  plots.grouped_bars(list(errors.index), {'model': errors['model'].values,
                                                          'persistence': errors['persistence'].values},
                                     name, f'MAE ({target})', f'{split}: MAE by {name}'))
  return view


def errors_by_period(frame: pd.DataFrame) -> Dict[str, pd.DataFrame]:
  """Mean absolute error of the model and of persistence by hour of day and by month of the target time."""
  time = pd.to_datetime(frame[TARGET_TIMESTAMP_KEY], unit='s')
  errors = pd.DataFrame({'model': (frame[PREDICTION_COLUMN] - frame[LABEL_KEY]).abs(),
                         'persistence': (frame[PERSISTENCE_KEY] - frame[LABEL_KEY]).abs()})
  return {period: errors.groupby(key).mean() for period, key in (('hour of day', time.dt.hour.rename('hour')),
                                                                  ('month', time.dt.month.rename('month')))}


def _eval_frame(predictions: Dict[str, Dict[str, list]], view: TaskView, what: str) -> Optional[pd.DataFrame]:
  """The eval split's predictions as a frame, or None (and a note on the view) when there are none."""
  frame = pd.DataFrame(predictions.get('eval', {}))
  if frame.empty:
    view.notes.append(f'no eval {what} were predicted.')
    return None
  return frame


def sentiment_view(predictions: Dict[str, Dict[str, list]], text_column: str, label_column: str) -> TaskView:
  from sklearn import calibration  # pylint: disable=g-import-not-at-top
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  view = TaskView()
  frame = _eval_frame(predictions, view, 'sentences')
  if frame is None:
    return view
  labels = frame[label_column].astype(int).values
  probability = frame[PREDICTION_COLUMN].astype(float).values
  predicted = (probability >= 0.5).astype(int)
  matrix = metrics.confusion_matrix(labels, predicted, labels=[0, 1])
  view.figure('confusion matrix (threshold 0.5)', plots.confusion_matrix(matrix, ['0', '1'], 'eval sentences'))
  view.tables.append(Table('confusion matrix (threshold 0.5): rows actual, columns predicted',
                           ['actual', 'predicted 0', 'predicted 1'],
                           [[str(label), int(matrix[label][0]), int(matrix[label][1])] for label in (0, 1)]))
  fraction, mean_predicted = calibration.calibration_curve(labels, probability, n_bins=10, strategy='uniform')
  # Sentences per bin, binned as calibration_curve bins them (a value on an edge goes to the lower bin).
  counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], probability), minlength=10)
  view.figure('reliability (calibration): 10 equal-width bins, the number is the sentences in a bin',
              plots.reliability(mean_predicted, fraction, counts[counts > 0], 'eval sentences'))
  frame['confidence'] = np.abs(probability - 0.5) * 2
  mistakes = frame[predicted != labels].sort_values('confidence', ascending=False).head(ROWS_SHOWN)
  view.tables.append(Table(
      f'the {len(mistakes)} most confident mistakes (of {int((predicted != labels).sum()):,} in '
      f'{len(frame):,} sentences)', ['sentence', 'label', 'P(positive)'],
      [[row[text_column], int(row[label_column]), f'{row[PREDICTION_COLUMN]:.3f}'] for _, row in mistakes.iterrows()]))
  return view


def translate_view(predictions: Dict[str, Dict[str, list]], source_column: str, target_column: str) -> TaskView:
  import sacrebleu  # pylint: disable=g-import-not-at-top
  view = TaskView()
  frame = _eval_frame(predictions, view, 'pairs')
  if frame is None:
    return view
  # Case-insensitive, as the Evaluator's corpus BLEU (the model sees lower-cased text).
  frame['bleu'] = [sacrebleu.sentence_bleu(str(p), [str(r)], lowercase=True).score
                   for p, r in zip(frame[PREDICTION_COLUMN], frame[target_column])]
  columns = ['source', 'reference', 'prediction', 'sentence BLEU']

  def rows(part: pd.DataFrame) -> List[List[object]]:
    return [[r[source_column], r[target_column], r[PREDICTION_COLUMN], f"{r['bleu']:.1f}"] for _, r in part.iterrows()]

  ranked = frame.sort_values('bleu', ascending=False, kind='stable')
  shown = min(ROWS_SHOWN, len(frame) // 2 or 1)  # best and worst never share a pair
  view.tables.append(Table(f'the first {min(ROWS_SHOWN, len(frame))} eval pairs', columns, rows(frame.head(ROWS_SHOWN))))
  view.tables.append(Table(f'the {shown} best', columns, rows(ranked.head(shown))))
  view.tables.append(Table(f'the {shown} worst', columns, rows(ranked.tail(shown)[::-1])))
  view.figure('sentence BLEU over the translated eval pairs',
              plots.histogram(frame['bleu'].values, 20, 'sentence BLEU (0-100)', f'{len(frame):,} eval pairs'))
  view.notes.append(f'{len(frame):,} eval pairs translated for this view (the Evaluator scored every eval pair).')
  return view


def task_view(task_name: str, predictions: Optional[Dict[str, Dict[str, list]]], trainer_config: dict) -> TaskView:
  if predictions is None:
    return TaskView(notes=['no predictions: the run stopped before EvalPredictions.'])
  if task_name == 'forecast':
    return forecast_view(predictions, trainer_config.get('metadata', {}).get('target', 'target'))
  if task_name == 'sentiment':
    return sentiment_view(predictions, trainer_config['text_column'], trainer_config['label_column'])
  return translate_view(predictions, trainer_config['source_column'], trainer_config['target_column'])
