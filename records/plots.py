"""Matplotlib figures for the run report, each returned as an inline `data:` PNG URI (the report fetches nothing)."""
import base64
import io
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top
import numpy as np  # noqa: E402  pylint: disable=g-import-not-at-top

_DPI = 80
CANDIDATE, BASELINE, PERSISTENCE, ACTUAL = '#1f77b4', '#ff7f0e', '#7f7f7f', '#2ca02c'


def _data_uri(figure) -> str:
  buffer = io.BytesIO()
  figure.tight_layout()
  figure.savefig(buffer, format='png', dpi=_DPI)
  plt.close(figure)
  return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode('ascii')


def epoch_curves(history: Dict[str, Dict[str, List[float]]], metric: str, title: str) -> str:
  """One panel for `metric`: its train and eval values per epoch (history: run -> metric -> values)."""
  figure, axes = plt.subplots(figsize=(5, 3))
  for run, style in (('train', '-o'), ('validation', '--s')):
    values = history.get(run, {}).get(metric)
    if values:
      axes.plot(range(1, len(values) + 1), values, style, label='eval' if run == 'validation' else run)
  axes.set_xlabel('epoch')
  axes.set_title(title)
  axes.xaxis.get_major_locator().set_params(integer=True)
  axes.legend()
  axes.grid(alpha=0.3)
  return _data_uri(figure)


def forecast_over_time(times: Sequence[np.datetime64], actual, forecast, persistence, title: str) -> str:
  figure, axes = plt.subplots(figsize=(10, 3.2))
  axes.plot(times, actual, color=ACTUAL, linewidth=1.2, label='actual')
  axes.plot(times, forecast, color=CANDIDATE, linewidth=1.0, label='forecast')
  axes.plot(times, persistence, color=PERSISTENCE, linewidth=0.8, linestyle=':', label='persistence')
  axes.set_title(title)
  axes.legend(ncol=3, fontsize='small')
  axes.grid(alpha=0.3)
  figure.autofmt_xdate()
  return _data_uri(figure)


def grouped_bars(groups: Sequence, series: Dict[str, Sequence[float]], xlabel: str, ylabel: str, title: str) -> str:
  """Bars per group for each named series (model vs persistence MAE per hour, say)."""
  figure, axes = plt.subplots(figsize=(10 if len(groups) > 12 else 6, 3))
  positions = np.arange(len(groups))
  width = 0.8 / max(len(series), 1)
  colors = [CANDIDATE, PERSISTENCE, BASELINE, ACTUAL]
  for i, (name, values) in enumerate(series.items()):
    axes.bar(positions + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=colors[i % 4])
  axes.set_xticks(positions, [str(g) for g in groups])
  axes.set_xlabel(xlabel)
  axes.set_ylabel(ylabel)
  axes.set_title(title)
  axes.legend(fontsize='small')
  axes.grid(alpha=0.3, axis='y')
  return _data_uri(figure)


def confusion_matrix(matrix: np.ndarray, labels: Sequence[str], title: str) -> str:
  figure, axes = plt.subplots(figsize=(3.6, 3.2))
  axes.imshow(matrix, cmap='Blues')
  for (row, column), count in np.ndenumerate(matrix):
    axes.text(column, row, f'{count:,}', ha='center', va='center',
              color='white' if count > matrix.max() / 2 else 'black')
  axes.set_xticks(range(len(labels)), labels)
  axes.set_yticks(range(len(labels)), labels)
  axes.set_xlabel('predicted')
  axes.set_ylabel('actual')
  axes.set_title(title)
  return _data_uri(figure)


def reliability(mean_predicted: Sequence[float], fraction_positive: Sequence[float], counts: Optional[Sequence[int]],
                title: str) -> str:
  figure, axes = plt.subplots(figsize=(4, 3.6))
  axes.plot([0, 1], [0, 1], ':', color=PERSISTENCE, label='perfectly calibrated')
  axes.plot(mean_predicted, fraction_positive, '-o', color=CANDIDATE, label='model')
  if counts is not None:
    for x, y, n in zip(mean_predicted, fraction_positive, counts):
      axes.annotate(str(n), (x, y), textcoords='offset points', xytext=(4, -10), fontsize='x-small')
  axes.set_xlim(0, 1)
  axes.set_ylim(0, 1)
  axes.set_xlabel('mean predicted P(positive)')
  axes.set_ylabel('fraction positive')
  axes.set_title(title)
  axes.legend(fontsize='small', loc='upper left')
  axes.grid(alpha=0.3)
  return _data_uri(figure)


def histogram(values: Sequence[float], bins: int, xlabel: str, title: str) -> str:
  figure, axes = plt.subplots(figsize=(5, 3))
  axes.hist(values, bins=bins, color=CANDIDATE)
  axes.set_xlabel(xlabel)
  axes.set_ylabel('sentences')
  axes.set_title(title)
  axes.grid(alpha=0.3, axis='y')
  return _data_uri(figure)
