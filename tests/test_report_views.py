"""Tier 1: the report's task views and threshold wording on a few in-memory predictions (no pipeline)."""
import datetime

import pandas as pd
import pytest

from components.eval_predictions import PREDICTION_COLUMN
from components.window_config import LABEL_KEY, PERSISTENCE_KEY, SERIES_KEY, TARGET_TIMESTAMP_KEY
from records import task_views


def _stamp(text: str) -> int:
  return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp())


def test_sentiment_view_counts_the_confusion_matrix_and_ranks_mistakes_by_confidence():
  predictions = {'eval': {'text': ['a', 'b', 'c', 'd', 'e', 'f'], 'label': [1, 1, 0, 0, 1, 0],
                          PREDICTION_COLUMN: [0.9, 0.2, 0.1, 0.95, 0.6, 0.45]}}
  view = task_views.sentiment_view(predictions, 'text', 'label')
  tables = {t.title.split(' (')[0].split(':')[0]: t for t in view.tables}
  assert tables['confusion matrix'].rows == [['0', 2, 1], ['1', 1, 2]]
  mistakes = next(t for t in view.tables if 'most confident mistakes' in t.title)
  assert [row[:2] for row in mistakes.rows] == [['d', 0], ['b', 1]]  # 0.95 for a 0 is surer than 0.2 for a 1
  assert mistakes.rows[0][2] == '0.950'
  assert '(of 2 in 6 sentences)' in mistakes.title
  assert len(view.figures) == 2 and all(f['uri'].startswith('data:image/png;base64,') for f in view.figures)


def test_translate_view_ranks_sentences_by_their_bleu():
  predictions = {'eval': {'source': ['Go.', 'Hi.', 'Run!'],
                          'target': ['Va !', 'Salut !', 'Cours !'],
                          PREDICTION_COLUMN: ['nous sommes là', 'salut !', 'cours']}}
  view = task_views.translate_view(predictions, 'source', 'target')
  best = next(t for t in view.tables if 'best' in t.title)
  worst = next(t for t in view.tables if 'worst' in t.title)
  assert best.rows[0][:3] == ['Hi.', 'Salut !', 'salut !'] and best.rows[0][3] == '100.0'  # case-insensitive
  assert worst.rows[0][0] == 'Go.' and worst.rows[0][3] == '0.0'


def test_forecast_errors_by_hour_and_month_for_model_and_persistence():
  frame = pd.DataFrame({
      TARGET_TIMESTAMP_KEY: [_stamp('2014-01-01T05:00'), _stamp('2014-01-02T05:00'), _stamp('2014-02-01T06:00')],
      LABEL_KEY: [10.0, 20.0, 30.0], PREDICTION_COLUMN: [12.0, 16.0, 30.0], PERSISTENCE_KEY: [10.0, 10.0, 40.0]})
  errors = task_views.errors_by_period(frame)
  assert errors['hour of day'].loc[5].tolist() == [3.0, 5.0] and errors['hour of day'].loc[6].tolist() == [0.0, 10.0]
  assert errors['month'].loc[1].tolist() == [3.0, 5.0] and errors['month'].loc[2].tolist() == [0.0, 10.0]


def test_forecast_view_plots_each_split_over_time_and_by_period():
  split = {TARGET_TIMESTAMP_KEY: [_stamp('2014-01-01T05:00'), _stamp('2014-01-01T06:00')], LABEL_KEY: [1.0, 2.0],
           PREDICTION_COLUMN: [1.5, 2.5], PERSISTENCE_KEY: [0.0, 1.0], SERIES_KEY: ['', '']}
  view = task_views.forecast_view({'eval': split, 'test': split}, 'pm2.5')
  assert [f['title'].split(':')[0] for f in view.figures] == ['eval'] * 3 + ['test'] * 3


@pytest.mark.parametrize('predictions', [None, {'eval': {}}])
def test_views_say_when_there_is_nothing_to_show(predictions):
  view = task_views.task_view('sentiment', predictions, {'text_column': 'text', 'label_column': 'label'})
  assert view.notes and not view.figures
