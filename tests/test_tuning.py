"""Tier 1: the hyperparameter search's parts: search spaces, the time budget, failed trials, progress lines."""
import dataclasses
import io
import logging
import time

import keras_tuner
import pytest

from cli.console import ProgressPrinter
from trainer import hyperparameters
from trainer import tuning

SPACES = {'forecast': hyperparameters.ForecastHyperparameters, 'sentiment': hyperparameters.SentimentHyperparameters,
          'translate': hyperparameters.TranslateHyperparameters}


@pytest.mark.parametrize('task', sorted(SPACES))
def test_every_dimension_is_a_hyperparameter_and_holds_its_default(task):
  space, defaults = hyperparameters.SEARCH_SPACES[task], SPACES[task]()
  fields = {f.name for f in dataclasses.fields(defaults)}
  for dimension in space.dimensions:
    assert dimension['name'] in fields
    default = getattr(defaults, dimension['name'])
    if 'values' in dimension:
      assert default in dimension['values'], dimension
    else:
      assert dimension['min'] <= default <= dimension['max'], dimension
  assert space.direction in ('min', 'max') and space.objective.startswith('val_')


def test_space_declares_choices_and_ranges():
  space = tuning.hyperparameter_space([{'name': 'units', 'values': [8, 16]},
                                       {'name': 'learning_rate', 'min': 1e-3, 'max': 1e-2, 'log': True}])
  units, rate = space.space
  assert units.values == [8, 16] and (rate.min_value, rate.max_value, rate.sampling) == (1e-3, 1e-2, 'log')


def _oracle(deadline=None, trials=5):
  return tuning._DeadlineOracle(  # pylint: disable=protected-access
      objective=keras_tuner.Objective('val_mae', 'min'), max_trials=trials, seed=3, deadline=deadline,
      hyperparameters=tuning.hyperparameter_space([{'name': 'units', 'values': [8, 16, 32, 64]}]))


def _tuner(tmp_path, train_trial, oracle):
  return tuning.TfKerasTuner(train_trial, 'val_mae', oracle.max_trials, oracle=oracle, directory=str(tmp_path),
                             project_name='search', overwrite=True)


def test_a_past_deadline_still_runs_one_trial_then_stops(tmp_path):
  seen = []
  tuner = _tuner(tmp_path, lambda values: seen.append(values) or 1.0, _oracle(deadline=time.time() - 1))
  tuner.search()
  assert len(seen) == 1


def test_same_seed_same_values(tmp_path):
  runs = []
  for name in ('a', 'b'):
    seen = []
    _tuner(tmp_path / name, lambda values, seen=seen: seen.append(dict(values)) or float(values['units']),
           _oracle(trials=3)).search()
    runs.append(seen)
  assert runs[0] == runs[1] and len(runs[0]) == 3


def test_a_failing_trial_is_skipped_and_the_best_finished_one_wins(tmp_path):
  def train_trial(values):
    if values['units'] == 8:
      raise RuntimeError('out of memory')
    return float(values['units'])
  tuner = _tuner(tmp_path, train_trial, _oracle(trials=4))
  tuner.search()
  best = tuner.get_best_hyperparameters()[0].values
  finished = [t for t in tuner.oracle.trials.values() if t.status == 'COMPLETED']
  assert any(t.status == 'FAILED' for t in tuner.oracle.trials.values())
  assert best['units'] == min(t.hyperparameters.values['units'] for t in finished)


def test_a_search_where_every_trial_fails_is_an_error(tmp_path):
  def train_trial(values):
    raise ValueError('bad batch')
  with pytest.raises(RuntimeError, match='none of 2 trial'):
    _tuner(tmp_path, train_trial, _oracle(trials=2)).search()
  with pytest.raises(RuntimeError, match='none of 1 trial'):
    _tuner(tmp_path / 'nan', lambda values: float('nan'), _oracle(trials=1)).search()


def test_trial_records_become_progress_lines():
  """One line per trial in a log file; the trials' epoch lines only on a terminal (updated in place)."""
  from trainer.common import EPOCH_MESSAGE  # pylint: disable=g-import-not-at-top
  console = io.StringIO()
  printer = ProgressPrinter(console, total=1)
  for message, args in [('Component %s is running.', ('Tuner',)), (EPOCH_MESSAGE, (1, 2, 0.5, 'mae', 0.3, 9.0)),
                        (tuning.TRIAL_MESSAGE, (1, 3, 'mae', 0.25, 0.25)),
                        (tuning.TRIAL_MESSAGE, (2, 3, 'mae', 0.5, 0.25)), ('Component %s is finished.', ('Tuner',))]:
    printer.emit(logging.LogRecord('absl', logging.INFO, __file__, 1, message, args, None))
  lines = console.getvalue().splitlines()
  assert lines[0] == '  [ 1/1] Tuner                      trial 1/3 done  eval mae 0.2500  best 0.2500'
  assert lines[1] == '  [ 1/1] Tuner                      trial 2/3 done  eval mae 0.5000  best 0.2500'
