"""Checks shared by the end-to-end tests of the run report: its numbers against TFMA's own reading of the
Evaluator's output, and the page in a real browser."""
import html.parser
import math
import os
from typing import Dict, Tuple

import tensorflow_model_analysis as tfma

from conftest import open_in_browser

Key = Tuple[str, str, str]  # (model or run, slice, metric)


class _ValueCells(html.parser.HTMLParser):
  """Collects the `data-value` of every element that names a model (or run), a slice and a metric."""

  def __init__(self, owner_attribute: str):
    super().__init__()
    self.owner, self.values, self.texts, self._open = owner_attribute, {}, {}, None

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if self.owner in attrs and 'data-metric' in attrs:
      value = attrs['data-value']
      self._open = (attrs[self.owner], attrs['data-slice'], attrs['data-metric'])
      self.values[self._open] = None if value == 'None' else float(value)
      self.texts[self._open] = ''

  def handle_data(self, data):
    if self._open is not None:
      self.texts[self._open] += data

  def handle_endtag(self, tag):
    self._open = None


def report_values(page: str, owner_attribute: str = 'data-model') -> Dict[Key, float]:
  parser = _ValueCells(owner_attribute)
  parser.feed(page)
  return parser.values


def report_texts(page: str, owner_attribute: str = 'data-model') -> Dict[Key, str]:
  """What a reader sees in each of those cells."""
  parser = _ValueCells(owner_attribute)
  parser.feed(page)
  return {key: text.strip() for key, text in parser.texts.items()}


def _slice(key) -> str:
  return 'overall' if not key else ', '.join(f'{feature} = {value}' for feature, value in key)


def tfma_values(evaluation_uri: str) -> Dict[Key, float]:
  """Every metric of every slice, read with tfma.load_eval_result: the candidate's, and with a baseline the
  baseline's and the differences TFMA wrote."""
  config = tfma.load_eval_result(evaluation_uri).config
  names = {('baseline' if spec.is_baseline else 'candidate'): spec.name for spec in config.model_specs}
  values = {}
  for model, name in names.items():
    result = tfma.load_eval_result(evaluation_uri, model_name=name if len(names) > 1 else None)
    for key, metrics in result.slicing_metrics:
      for metric, value in metrics[''][''].items():
        if metric.endswith('_diff'):
          values[('difference', _slice(key), metric[:-len('_diff')])] = value['doubleValue']
        else:
          values[(model, _slice(key), metric)] = value['doubleValue']
  return values


def assert_report_matches_tfma(page: str, evaluation_uri: str) -> Dict[Key, float]:
  """The report shows exactly TFMA's numbers: the same (model, slice, metric) cells, value for value."""
  expected, shown = tfma_values(evaluation_uri), report_values(page)
  assert expected, evaluation_uri
  assert set(shown) == set(expected), (set(shown) ^ set(expected))
  for key, value in expected.items():
    assert shown[key] == value or (math.isnan(value) and math.isnan(shown[key])), (key, shown[key], value)
  # And the page shows each to 4 significant digits (differences signed).
  texts = report_texts(page)
  for key, value in expected.items():
    if key[0] == 'difference':
      assert texts[key] == format(value, '+.4g'), (key, texts[key], value)
    elif not math.isnan(value):
      assert texts[key] == (f'{int(value):,}' if value.is_integer() else format(value, '.4g')), (key, texts[key])
  return expected


def assert_opens_cleanly_offline(report_path: str, screenshot_name: str, *must_show: str) -> None:
  """Headless Chromium with the network off: no console message of any kind, no script error, no request but the
  file itself, every image decoded, and the given text visible. Leaves a screenshot in test-artifacts/."""
  seen = open_in_browser(report_path, screenshot_name)
  assert seen['console'] == [] and seen['errors'] == [], (seen['console'], seen['errors'])
  assert seen['requests'] == [], seen['requests']
  assert seen['broken_images'] == [], seen['broken_images']
  for text in must_show:
    assert text in seen['text'], text
  assert os.path.getsize(seen['screenshot']) > 10_000
