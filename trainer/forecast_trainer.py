"""Forecast task: the LSTM forecaster, its training entry point and its serving signatures.

Architecture (the seed's Example 1 as the baseline: LSTM layer(s) + Dense): the W steps of every input
feature (z-scored numerics, embedded categoricals) feed stacked LSTM layers; a Dense layer reads the last
state. With `residual` (default) the Dense output is added to the last observed target value, so the
network learns the change from the persistence forecast rather than the level. With `target_differences`
(default) the target's step-to-step changes are a further input, and with `ema_momentum` (default 0.99) the
weights kept are a moving average of the training steps' weights, warmed up over the first steps.
"""
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx.components.trainer.fn_args_utils import FnArgs

from preprocessing.forecast_transform import CALENDAR_KEYS
from preprocessing.forecast_transform import LABEL_KEY
from preprocessing.forecast_transform import TARGET_SCALE_KEY
from preprocessing.forecast_transform import TARGET_SHIFT_KEY
from preprocessing.forecast_transform import vocabulary_name
from trainer import common
from trainer import tuning
from trainer.common import keras
from trainer.hyperparameters import ForecastHyperparameters

FORECAST_OUTPUT = 'forecast'
WINDOW_SIGNATURE = 'forecast_window'


class StepDifferences(keras.layers.Layer):
  """[batch, window] -> [batch, window, 1]: each step minus the one before (0 at the first step)."""

  def call(self, values):
    changes = tf.concat([tf.zeros_like(values[:, :1]), values[:, 1:] - values[:, :-1]], axis=1)
    return changes[:, :, None]


def build_model(numeric_features: List[str], categorical_vocab_sizes: Dict[str, int], target_feature: str,
                window: int, units: int = 64, layers: int = 1, dropout: float = 0.0,
                embedding_dim: int = 4, residual: bool = True, target_differences: bool = False) -> keras.Model:
  """Transformed window features -> forecast of the target in z-score units, shape [batch, 1].

  target_differences: the target's hour-to-hour changes are a further input at every step (the residual output
  predicts a change, and the recent changes are its most direct evidence).
  """
  inputs, steps = {}, []
  for key in numeric_features:
    inputs[key] = keras.Input(shape=(window,), name=key, dtype=tf.float32)
    steps.append(keras.layers.Reshape((window, 1), name=f'{key}_steps')(inputs[key]))
  if target_differences:
    steps.append(StepDifferences(name='target_differences')(inputs[target_feature]))
  for key, vocab_size in categorical_vocab_sizes.items():
    inputs[key] = keras.Input(shape=(window,), name=key, dtype=tf.int64)
    steps.append(keras.layers.Embedding(vocab_size, embedding_dim, name=f'{key}_embedding')(inputs[key]))
  x = keras.layers.Concatenate(axis=-1, name='steps')(steps) if len(steps) > 1 else steps[0]
  for i in range(layers):
    x = keras.layers.LSTM(units, dropout=dropout, return_sequences=i < layers - 1, name=f'lstm_{i}')(x)
  output = keras.layers.Dense(1, name='dense')(x)
  if residual:
    last_value = keras.layers.Cropping1D((window - 1, 0), name='last_value')(steps[numeric_features.index(target_feature)])
    output = keras.layers.Add(name='forecast_scaled')([output, keras.layers.Flatten()(last_value)])
  return keras.Model(inputs=inputs, outputs=output, name='lstm_forecaster')


def _serving_signatures(model: keras.Model, tft_output: tft.TFTransformOutput, config: Dict[str, Any]):
  numeric, categorical = config['numeric_features'], config['categorical_features']
  times = [config['time_feature']] if config['time_feature'] else []
  window = config['window']
  model.tft_layer = tft_output.transform_features_layer()
  parse = common.raw_example_parser(tft_output, numeric + categorical + times)

  def forecast_from_raw(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    transformed = model.tft_layer(raw)
    scaled = tf.reshape(model(transformed), [-1])
    return {FORECAST_OUTPUT: scaled * transformed[TARGET_SCALE_KEY] + transformed[TARGET_SHIFT_KEY]}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serving_default(serialized):
    return forecast_from_raw(parse(serialized))

  window_spec = {k: tf.TensorSpec([None, window], tf.float32, name=k) for k in numeric}
  window_spec.update({k: tf.TensorSpec([None, window], tf.string, name=k) for k in categorical})
  window_spec.update({k: tf.TensorSpec([None, window], tf.int64, name=k) for k in times})  # Unix seconds

  @tf.function(input_signature=[window_spec])
  def forecast_window(raw):
    return forecast_from_raw(raw)

  return {
      'serving_default': serving_default,
      WINDOW_SIGNATURE: forecast_window,
      'transform_features': common.transform_features_signature(model, tft_output, LABEL_KEY),
  }


def _vocabulary_sizes(setup: common.TrainingSetup) -> Dict[str, int]:
  return {k: setup.tft_output.vocabulary_size_by_name(vocabulary_name(k)) + setup.config['num_oov_buckets']
          for k in setup.config['categorical_features']}


class WarmedUpAverageAdam(keras.optimizers.Adam):
  """Adam that keeps an exponential moving average of the weights (swapped in when fit ends) whose momentum
  grows with the steps taken: min(ema_momentum, (1 + step) / (10 + step)).

  Keras' fixed momentum starts the average at the random initial weights, and after a short training (an epoch of
  a few dozen steps) they still dominate it (skill -105% on the test suite's 75 days); warmed up, the first
  steps' weights fade within a few dozen steps, and a long training averages at `ema_momentum`.
  """

  def __init__(self, learning_rate: float, ema_momentum: float, **kwargs):
    super().__init__(learning_rate, use_ema=True, ema_momentum=ema_momentum, **kwargs)

  @property
  def ema_momentum(self):
    step = tf.cast(self.iterations, tf.float32)
    return tf.minimum(self._ema_momentum_limit, (1.0 + step) / (10.0 + step))

  @ema_momentum.setter
  def ema_momentum(self, value: float):  # Keras' constructor sets it
    self._ema_momentum_limit = float(value)

  def get_config(self) -> Dict[str, Any]:
    return {**super().get_config(), 'ema_momentum': self._ema_momentum_limit}


def build_and_compile(setup: common.TrainingSetup, hparams: ForecastHyperparameters,
                      model_run_dir: Optional[str] = None) -> Tuple[keras.Model, List[keras.callbacks.Callback]]:
  """The forecaster for `hparams`, compiled, and the callbacks its fit needs (none); call under the strategy's
  scope (run_fn and tuning trials)."""
  del model_run_dir  # the forecaster writes nothing while it is built
  config = setup.config
  numeric_inputs = config['numeric_features'] + (list(CALENDAR_KEYS) if config['time_feature'] else [])
  model = build_model(numeric_inputs, _vocabulary_sizes(setup), config['target_feature'], config['window'],
                      units=hparams.units, layers=hparams.layers, dropout=hparams.dropout, residual=hparams.residual,
                      target_differences=hparams.target_differences)
  loss = hparams.loss
  if loss == 'huber':  # Keras' default delta (1 z-unit) would make it MSE for almost every error
    loss = keras.losses.Huber(delta=hparams.huber_delta)
  # With ema_momentum, the weights kept at the end of training are an exponential moving average of the steps'
  # weights, which smooths out the last epochs' noise (bench/README.md).
  optimizer = (WarmedUpAverageAdam(hparams.learning_rate, hparams.ema_momentum) if hparams.ema_momentum > 0
               else keras.optimizers.Adam(hparams.learning_rate))
  model.compile(optimizer=optimizer,
                steps_per_execution=hparams.steps_per_execution,
                loss=loss, metrics=[keras.metrics.MeanAbsoluteError(name='mae')])
  return model, []


def fit(setup: common.TrainingSetup, model: keras.Model, hparams: ForecastHyperparameters,
        callbacks: List[keras.callbacks.Callback], train_steps: Optional[int] = None):
  """Trains on the train windows, scoring the eval windows every epoch; returns the History."""
  return model.fit(setup.train, validation_data=setup.evaluation, epochs=hparams.epochs, verbose=0,
                   steps_per_epoch=train_steps or None, callbacks=callbacks)


# TFX Trainer will call this function (on every worker of a multi-worker cluster; only the chief writes).
@common.chief_writes_outputs
def run_fn(fn_args: FnArgs) -> None:
  """Trains the forecaster on the transformed train windows and exports it with serving signatures.

  Args:
    fn_args: TFX trainer arguments; `base_model` (the latest blessed model, when warm starting) gives the
      starting weights; `hyperparameters` (with --tune) the search's best values. `custom_config` carries the
      window layout (`numeric_features`, `categorical_features`, `target_feature`, `time_feature`,
      `num_oov_buckets`, `window`, plus `metadata` for the model description) and `hyperparameters`, every field
      of ForecastHyperparameters.
  """
  setup = common.TrainingSetup(fn_args, LABEL_KEY, ForecastHyperparameters)
  hparams, tft_output, strategy = setup.hparams, setup.tft_output, setup.strategy
  with strategy.scope():
    model, _ = build_and_compile(setup, hparams)
  vocabulary_axes = {f'{key}_embedding/0': common.VocabularyAxis(vocabulary_name(key))
                     for key in setup.config['categorical_features']}
  common.warm_start(model, fn_args, tft_output, vocabulary_axes)
  logging.info('forecast model on %d replica(s), global batch %d', strategy.num_replicas_in_sync,
               setup.batch_size)
  fit(setup, model, hparams, common.training_callbacks(fn_args, hparams.epochs, 'mae'), fn_args.train_steps)
  # Before the export adds the Transform layers to the model's layers.
  common.save_warm_start_state(model, fn_args, tft_output, vocabulary_axes)
  common.export_model(model, fn_args.serving_model_dir, _serving_signatures(model, tft_output, setup.config),
                      dict(setup.config['metadata'], task='forecast', window_signature=WINDOW_SIGNATURE))


# TFX Tuner will call this function (with --tune).
def tuner_fn(fn_args: FnArgs) -> tfx.components.TunerFnResult:
  """Searches the task spec's space (custom_config['tuning']) for the lowest eval MAE, training each trial as
  run_fn would (without warm start)."""
  return tuning.make_tuner(fn_args, LABEL_KEY, ForecastHyperparameters, build_and_compile, fit)
