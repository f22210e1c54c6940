"""Tier 3: `tfx-lstm run forecast --tune`: TFX's Tuner before the Trainer, on a slice of the bundled data.

One tuned run is shared by the tests: the search's artifacts, the Trainer's use of the best trial, the summary and
the report. A second root repeats the search with the same seed; a re-run of the first is served from the cache.
"""
import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import BUNDLED_FORECAST_CSV, read_run_of, run_cli
from records import training_history
from trainer.common import HYPERPARAMETERS_FILE
from trainer.hyperparameters import FORECAST_SEARCH_SPACE

pytestmark = pytest.mark.e2e

ROWS = 1200  # 50 days of hourly rows: enough windows for the three splits
FLAGS = ['--tune', '--trials', '3', '--epochs', '2', '--min-skill', '-1', '--seed', '7']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('tuning_data')
  with open(BUNDLED_FORECAST_CSV) as src, open(directory / 'part-0.csv', 'w', newline='') as dst:
    for i, line in enumerate(src):
      if i > ROWS:
        break
      dst.write(line)
  return str(directory)


@pytest.fixture(scope='module')
def tuned(data_dir, tmp_path_factory):
  root = str(tmp_path_factory.mktemp('tuning_root'))
  result = run_cli('run', 'forecast', '--data', data_dir, '--root', root, *FLAGS)
  assert result.returncode == 0, result.stdout + result.stderr
  return root, result, read_run_of(root, result)


def _best_hyperparameters(record) -> dict:
  artifact = record.node_output('Tuner', 'best_hyperparameters')
  (name,) = tf.io.gfile.listdir(artifact.uri)
  with tf.io.gfile.GFile(os.path.join(artifact.uri, name)) as f:
    return json.load(f)['values']


def test_three_trials_ran_and_the_trainer_used_the_best(tuned):
  root, result, record = tuned
  assert record.nodes_in_state('COMPLETE').count('Tuner') == 1 and 'Trainer' in record.nodes_in_state('COMPLETE')
  trials = training_history.tuning_trials(record)
  assert len(trials) == 3
  scores = [t['score'] for t in trials]
  assert scores == sorted(scores)  # eval MAE: lower is better, best first
  names = {d['name'] for d in FORECAST_SEARCH_SPACE.dimensions}
  assert all(set(t) == names | {'trial_id', 'score'} for t in trials)
  assert len({json.dumps({k: t[k] for k in names}, sort_keys=True) for t in trials}) == 3  # three different points
  best = _best_hyperparameters(record)
  assert best == {k: trials[0][k] for k in names}
  # What the Trainer trained with: the best trial's values over the configured ones.
  model_run = record.node_output('Trainer', 'model_run').uri
  with tf.io.gfile.GFile(os.path.join(model_run, HYPERPARAMETERS_FILE)) as f:
    used = json.load(f)
  assert sorted(used['tuned']) == sorted(names)
  assert {k: used['hyperparameters'][k] for k in names} == best
  assert used['hyperparameters']['epochs'] == 2 and used['hyperparameters']['seed'] == 7  # untouched flags stay
  # ... and the exported model has the best trial's architecture: its LSTM layers' kernels are [inputs, 4 * units].
  # (Read from the weights the Trainer saved beside its SavedModel for the next warm start.)
  with np.load(os.path.join(record.node_output('Trainer', 'model').uri, 'warm_start', 'weights.npz')) as weights:
    kernels = [weights[key] for key in weights.files if key.startswith('lstm_') and key.endswith('|0')]
  assert len(kernels) == best['layers'] and all(k.shape[-1] == 4 * best['units'] for k in kernels)
  # Trials are scored on the weights their training ended with (the moving average here), as the Trainer exports.
  history = training_history.read_history(model_run)
  assert len(history['validation']['mae']) == 2 and trials[0]['score'] > 0
  # Progress: one line per finished trial.
  assert sum('trial ' in line and ' done  eval mae ' in line for line in result.stdout.splitlines()) == 3


def test_summary_and_report_list_the_trials(tuned):
  root, result, record = tuned
  trials = training_history.tuning_trials(record)
  summary = result.stdout[result.stdout.index('summary of run'):]
  assert '3 trial(s) finished, best first (eval mae, lower is better)' in summary
  lines = summary.splitlines()
  first = next(i for i, line in enumerate(lines) if 'tuning ' in line)
  for offset, trial in enumerate(trials, start=1):
    assert lines[first + offset].startswith(f"    trial {trial['trial_id']}  {trial['score']:.4f}  units ")
  assert lines[first + 1].endswith('<- the Trainer used these')
  report = open(os.path.join(root, 'reports', f'{record.run_id}.html')).read()
  assert 'Hyperparameter search' in report and report.count('<tr><td>') >= 3 and '(from the search)' in report


def test_same_seed_same_search(tuned, data_dir, tmp_path):
  _, _, record = tuned
  again = run_cli('run', 'forecast', '--data', data_dir, '--root', str(tmp_path / 'again'), *FLAGS)
  assert again.returncode == 0, again.stdout + again.stderr
  first, second = training_history.tuning_trials(record), training_history.tuning_trials(
      read_run_of(str(tmp_path / 'again'), again))
  values = lambda trials: [{k: v for k, v in t.items() if k != 'score'} for t in trials]  # noqa: E731
  assert values(first) == values(second)  # same trials, same order: same best trial
  assert [t['score'] for t in first] == pytest.approx([t['score'] for t in second], rel=1e-4)


def test_unchanged_tuned_run_is_cached(tuned, data_dir):
  root, _, _ = tuned
  again = run_cli('run', 'forecast', '--data', data_dir, '--root', root, *FLAGS)
  assert again.returncode == 0, again.stdout + again.stderr
  record = read_run_of(root, again)
  assert 'Tuner' in record.nodes_in_state('CACHED') and 'Trainer' in record.nodes_in_state('CACHED')
