"""Forecast task: the LSTM forecaster, its training entry point and its serving signatures.

Architecture (the seed's Example 1 as the baseline: LSTM layer(s) + Dense): the W steps of every input
feature (z-scored numerics, embedded categoricals) feed stacked LSTM layers; a Dense layer reads the last
state. With `residual` (default) the Dense output is added to the last observed target value, so the
network learns the change from the persistence forecast rather than the level.
"""
from typing import Any, Dict, List

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from preprocessing.forecast_transform import CALENDAR_KEYS
from preprocessing.forecast_transform import LABEL_KEY
from preprocessing.forecast_transform import TARGET_SCALE_KEY
from preprocessing.forecast_transform import TARGET_SHIFT_KEY
from preprocessing.forecast_transform import vocabulary_name
from trainer import common
from trainer.common import keras
from trainer.hyperparameters import ForecastHyperparameters

FORECAST_OUTPUT = 'forecast'
WINDOW_SIGNATURE = 'forecast_window'


def build_model(numeric_features: List[str], categorical_vocab_sizes: Dict[str, int], target_feature: str,
                window: int, units: int = 64, layers: int = 1, dropout: float = 0.0,
                embedding_dim: int = 4, residual: bool = True) -> keras.Model:
  """Transformed window features -> forecast of the target in z-score units, shape [batch, 1]."""
  inputs, steps = {}, []
  for key in numeric_features:
    inputs[key] = keras.Input(shape=(window,), name=key, dtype=tf.float32)
    steps.append(keras.layers.Reshape((window, 1), name=f'{key}_steps')(inputs[key]))
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


# TFX Trainer will call this function (on every worker of a multi-worker cluster; only the chief writes).
@common.chief_writes_outputs
def run_fn(fn_args: FnArgs) -> None:
  """Trains the forecaster on the transformed train windows and exports it with serving signatures.

  Args:
    fn_args: TFX trainer arguments; `base_model` (the latest blessed model, when warm starting) gives the
      starting weights. `custom_config` carries the window layout (`numeric_features`,
      `categorical_features`, `target_feature`, `time_feature`, `num_oov_buckets`, `window`, plus `metadata`
      for the model description) and `hyperparameters`, every field of ForecastHyperparameters.
  """
  setup = common.TrainingSetup(fn_args, LABEL_KEY, ForecastHyperparameters)
  config, hparams, tft_output, strategy = setup.config, setup.hparams, setup.tft_output, setup.strategy

  vocab_sizes = {k: tft_output.vocabulary_size_by_name(vocabulary_name(k)) + config['num_oov_buckets']
                 for k in config['categorical_features']}
  with strategy.scope():
    numeric_inputs = config['numeric_features'] + (list(CALENDAR_KEYS) if config['time_feature'] else [])
    model = build_model(numeric_inputs, vocab_sizes, config['target_feature'], config['window'],
                        units=hparams.units, layers=hparams.layers, dropout=hparams.dropout,
                        residual=hparams.residual)
    loss = hparams.loss
    if loss == 'huber':  # Keras' default delta (1 z-unit) would make it MSE for almost every error
      loss = keras.losses.Huber(delta=hparams.huber_delta)
    model.compile(optimizer=keras.optimizers.Adam(hparams.learning_rate),
                  steps_per_execution=hparams.steps_per_execution,
                  loss=loss, metrics=[keras.metrics.MeanAbsoluteError(name='mae')])
  vocabulary_axes = {f'{key}_embedding/0': common.VocabularyAxis(vocabulary_name(key)) for key in vocab_sizes}
  common.warm_start(model, fn_args, tft_output, vocabulary_axes)
  logging.info('forecast model on %d replica(s), global batch %d', strategy.num_replicas_in_sync,
               setup.batch_size)
  model.fit(setup.train, validation_data=setup.evaluation, epochs=hparams.epochs, verbose=0,
            steps_per_epoch=fn_args.train_steps or None,
            callbacks=common.training_callbacks(fn_args, hparams.epochs, 'mae'))
  # Before the export adds the Transform layers to the model's layers.
  common.save_warm_start_state(model, fn_args, tft_output, vocabulary_axes)
  common.export_model(model, fn_args.serving_model_dir, _serving_signatures(model, tft_output, config),
                      dict(config['metadata'], task='forecast', window_signature=WINDOW_SIGNATURE))
