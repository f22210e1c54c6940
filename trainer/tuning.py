"""Hyperparameter search for the three tasks, run by TFX's Tuner component before the Trainer (`--tune`).

Each task module has a `tuner_fn` that calls `make_tuner` with its own build-and-compile and fit functions, the
same ones its `run_fn` uses, so a trial trains exactly the model the Trainer would with those values. The search
space, the number of trials, the time budget and the objective come from the task spec (custom_config['tuning']).

KerasTuner 1.4 always builds Keras 3 and rejects tf_keras models in its default trial loop (docs/design.md §14).
So the tuner here is a `BaseTuner` whose `run_trial` builds, fits and scores the model itself and hands KerasTuner
only a number: KerasTuner chooses values and keeps the score board; Keras 3 never sees a model.

Reproducible: the oracle draws values from the run's seed, and every trial starts from the same Keras seed, so two
searches with the same seed, data and trial count choose the same values and get the same best trial.
"""
import dataclasses
import logging
import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from absl import logging as absl_logging
import keras_tuner
from tfx import v1 as tfx

from trainer import common
from trainer.common import keras

TUNING_KEY = 'tuning'  # the Tuner's custom_config: the Trainer's config plus this
# One record per finished trial on the progress logger (trainer.common.PROGRESS_LOGGER), for the CLI's progress
# line: trial, trials, objective name, its value, the best value so far.
TRIAL_MESSAGE = 'trial %d/%d: eval %s %.4f, best %.4f'


def hyperparameter_space(search_space: List[Dict[str, Any]]) -> keras_tuner.HyperParameters:
  """The KerasTuner space of a task spec's search space: {'name', 'values'} is a choice, {'name', 'min', 'max',
  'log'} a float range. Declared up front: otherwise the first trial would get every default."""
  space = keras_tuner.HyperParameters()
  for dimension in search_space:
    if 'values' in dimension:
      space.Choice(dimension['name'], list(dimension['values']))
    else:
      space.Float(dimension['name'], dimension['min'], dimension['max'],
                  sampling='log' if dimension.get('log') else 'linear')
  return space


class _DeadlineOracle(keras_tuner.oracles.RandomSearchOracle):
  """Random search that starts no new trial after `deadline` (Unix time), once one trial has finished."""

  def __init__(self, *args, deadline: Optional[float] = None, **kwargs):
    super().__init__(*args, **kwargs)
    self.deadline = deadline

  def populate_space(self, trial_id):
    finished = any(t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in self.trials.values())
    if self.deadline is not None and finished and time.time() >= self.deadline:
      absl_logging.info('tuning time is up: no trial after %d', len(self.trials) - 1)
      return {'status': keras_tuner.engine.trial.TrialStatus.STOPPED, 'values': None}
    return super().populate_space(trial_id)


class _StopAtDeadline(keras.callbacks.Callback):
  """Ends a trial's training after the epoch during which the time budget ran out, unless no trial has finished
  yet (the search always has one whole trial)."""

  def __init__(self, deadline: float, one_finished: Callable[[], bool]):
    super().__init__()
    self._deadline, self._one_finished = deadline, one_finished

  def on_epoch_end(self, epoch, logs=None):
    if time.time() >= self._deadline and self._one_finished():
      self.model.stop_training = True


class _FinalScore(keras.callbacks.Callback):
  """Scores the model training ends with (after early stopping restored its best epoch, or the optimizer swapped in
  its moving-average weights): the weights the Trainer would export, not an epoch's passing values."""

  def __init__(self, evaluation):
    super().__init__()
    self._evaluation, self.scores = evaluation, {}

  def on_train_end(self, logs=None):
    self.scores = self.model.evaluate(self._evaluation, verbose=0, return_dict=True)


class TfKerasTuner(keras_tuner.engine.base_tuner.BaseTuner):
  """Runs each trial with `train_trial(values) -> objective value`; KerasTuner keeps only the numbers."""

  def __init__(self, train_trial: Callable[[Dict[str, Any]], float], objective_name: str, trials: int, **kwargs):
    super().__init__(**kwargs)
    self._train_trial, self._objective_name, self._trials = train_trial, objective_name, trials
    self._metric = objective_name.removeprefix('val_')
    self._best: Optional[float] = None

  def run_trial(self, trial, *fit_args, **fit_kwargs):
    value = self._train_trial(trial.hyperparameters.values)
    if not math.isfinite(value):
      raise keras_tuner.errors.FailedTrialError(f'eval {self._objective_name} is {value}')
    better = self.oracle.objective.better_than
    self._best = value if self._best is None or better(value, self._best) else self._best
    logging.getLogger(common.PROGRESS_LOGGER).info(TRIAL_MESSAGE, len(self.oracle.trials), self._trials,
                                                   self._metric, value, self._best)
    return {self._objective_name: value}  # a number, never a History: a tf_keras History is rejected

  def save_model(self, trial_id, model, step=0):
    pass  # the Trainer retrains with the best values; trials keep no model

  def on_search_end(self):
    super().on_search_end()
    trials = list(self.oracle.trials.values())
    if not any(t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in trials):
      # Otherwise TFX would write a failed trial's values as the best ones.
      first = next((t.message for t in trials if t.message), 'no trial ran')
      raise RuntimeError(f'hyperparameter search: none of {len(trials)} trial(s) finished; the first failure:\n'
                         f'{first}')


def make_tuner(fn_args, label_key: str, hyperparameters_class: Type,
               build_and_compile: Callable[[common.TrainingSetup, Any], Tuple[Any, List[keras.callbacks.Callback]]],
               fit: Callable[[common.TrainingSetup, Any, Any, List[keras.callbacks.Callback]], Any]
               ) -> tfx.components.TunerFnResult:
  """The TunerFnResult of a task: trials build the model with `build_and_compile(setup, hparams)` -> (model,
  callbacks its fit needs) under the strategy's scope and train it with `fit(setup, model, hparams, callbacks)`
  (the run_fn's own functions; the model is whatever the task's fit takes: a Keras model, or translate's
  Seq2Seq).

  A trial's score is the eval objective of the weights its training ends with: what the Trainer would export
  with the same values (the best epoch under early stopping, the moving average with --ema-momentum).
  """
  # The Tuner's FnArgs have the transform graph under another name than the Trainer's.
  fn_args.transform_output = fn_args.transform_output or fn_args.transform_graph_path
  tuning = fn_args.custom_config[TUNING_KEY]
  setup = common.TrainingSetup(fn_args, label_key, hyperparameters_class)
  objective, direction = tuning['objective'], tuning['direction']
  minutes = float(tuning.get('minutes') or 0)
  deadline = time.time() + 60 * minutes if minutes > 0 else None
  metric = objective.removeprefix('val_')  # as the progress lines name it

  def train_trial(values: Dict[str, Any]) -> float:
    hparams = dataclasses.replace(setup.hparams, **values)
    keras.backend.clear_session()
    keras.utils.set_random_seed(hparams.seed)  # every trial starts alike: scores differ by their values only
    trial_setup = setup.with_hyperparameters(hparams)
    with trial_setup.strategy.scope():
      model, callbacks = build_and_compile(trial_setup, hparams)
    final = _FinalScore(trial_setup.evaluation)
    callbacks = [*callbacks, common.EpochProgress(hparams.epochs, metric)]
    if deadline is not None:
      callbacks.append(_StopAtDeadline(deadline, lambda: any(
          t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in oracle.trials.values())))
    # Last: after EarlyStopping's own on_train_end has restored the best epoch.
    fit(trial_setup, model, hparams, [*callbacks, final])
    return float(final.scores.get(metric, math.nan))

  oracle = _DeadlineOracle(
      objective=keras_tuner.Objective(objective, direction),
      max_trials=int(tuning['trials']),
      # KerasTuner reads seed 0 as "random": shift the project's seeds (0 is the default) by one.
      seed=int(setup.hparams.seed) + 1,
      hyperparameters=hyperparameter_space(tuning['search_space']),
      deadline=deadline,
      # A failing trial is skipped however many fail in a row (KerasTuner's default ends the search at 3).
      max_consecutive_failed_trials=int(tuning['trials']))
  tuner = TfKerasTuner(train_trial, objective, int(tuning['trials']), oracle=oracle,
                       directory=fn_args.working_dir, project_name='search', overwrite=True)
  return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={})

