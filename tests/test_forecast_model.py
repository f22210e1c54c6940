"""Tier 1: the forecaster's builder, and one training step under a 2-replica MirroredStrategy on CPU."""
import numpy as np
import tensorflow as tf

from trainer import common
from trainer import forecast_trainer
from trainer.common import keras

WINDOW = 6


def _inputs(batch: int):
  rng = np.random.default_rng(0)
  return {'y': rng.normal(size=(batch, WINDOW)).astype('float32'),
          'x': rng.normal(size=(batch, WINDOW)).astype('float32'),
          'wind': rng.integers(0, 3, size=(batch, WINDOW))}


def test_model_shapes_for_stacked_layers():
  model = forecast_trainer.build_model(['y', 'x'], {'wind': 3}, 'y', WINDOW, units=8, layers=2, dropout=0.1)
  assert model(_inputs(5)).shape == (5, 1)
  assert [l.name for l in model.layers if isinstance(l, keras.layers.LSTM)] == ['lstm_0', 'lstm_1']


def test_residual_model_starts_from_the_last_value():
  model = forecast_trainer.build_model(['y'], {}, 'y', WINDOW, units=4, residual=True)
  dense = model.get_layer('dense')
  dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
  inputs = {'y': np.arange(2 * WINDOW, dtype='float32').reshape(2, WINDOW)}
  np.testing.assert_allclose(model(inputs).numpy()[:, 0], inputs['y'][:, -1])


def test_two_replica_training_step_on_cpu():
  strategy = common.make_strategy(2)  # conftest split the CPU into two logical devices
  assert strategy.num_replicas_in_sync == 2
  with strategy.scope():
    model = forecast_trainer.build_model(['y', 'x'], {'wind': 3}, 'y', WINDOW, units=8)
    model.compile(optimizer='adam', loss='mse')
  labels = np.ones((16, 1), dtype='float32')
  dataset = tf.data.Dataset.from_tensor_slices((_inputs(16), labels)).batch(8)
  before = [w.numpy().copy() for w in model.trainable_weights]
  history = model.fit(dataset, epochs=1, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_weights))


def test_models_of_other_shapes_train_one_after_another_under_two_replicas():
  """A tuned local run trains the Tuner's trials and then the Trainer's model in one process: the second
  strategy asked for is the first (a new MirroredStrategy would reuse its all-reduce keys with other shapes)."""
  strategy = common.make_strategy(2)
  assert common.make_strategy(2) is strategy
  labels = np.ones((16, 1), dtype='float32')
  dataset = tf.data.Dataset.from_tensor_slices((_inputs(16), labels)).batch(8)
  for units in (3, 6):
    keras.backend.clear_session()
    with common.make_strategy(2).scope():
      model = forecast_trainer.build_model(['y', 'x'], {'wind': 3}, 'y', WINDOW, units=units)
      model.compile(optimizer='adam', loss='mse')
    assert np.isfinite(model.fit(dataset, epochs=1, verbose=0).history['loss'][0])


def test_target_differences_are_an_extra_input_step_by_step():
  values = np.array([[1.0, 3.0, 2.0, 2.0]], dtype='float32')
  np.testing.assert_allclose(forecast_trainer.StepDifferences()(values).numpy()[0, :, 0], [0.0, 2.0, -1.0, 0.0])
  plain = forecast_trainer.build_model(['y', 'x'], {'wind': 3}, 'y', WINDOW, units=8)
  with_changes = forecast_trainer.build_model(['y', 'x'], {'wind': 3}, 'y', WINDOW, units=8, target_differences=True)
  # One more input feature per step: the first LSTM kernel has one more row.
  assert with_changes.get_layer('lstm_0').get_weights()[0].shape[0] == \
      plain.get_layer('lstm_0').get_weights()[0].shape[0] + 1
  assert with_changes(_inputs(3)).shape == (3, 1)


def test_moving_average_weights_replace_the_last_steps_weights_after_fit(monkeypatch):
  """With ema_momentum the model keeps the averaged weights (tf_keras swaps them in when fit ends)."""
  from trainer.hyperparameters import ForecastHyperparameters  # pylint: disable=g-import-not-at-top

  class Setup:  # what build_and_compile reads of a TrainingSetup
    config = {'numeric_features': ['y', 'x'], 'categorical_features': [], 'time_feature': '', 'target_feature': 'y',
              'window': WINDOW}
  monkeypatch.setattr(forecast_trainer, '_vocabulary_sizes', lambda setup: {})  # no categorical inputs here
  model, callbacks = forecast_trainer.build_and_compile(Setup(), ForecastHyperparameters(units=4, ema_momentum=0.5))
  assert callbacks == [] and model.optimizer.use_ema
  inputs = {k: v for k, v in _inputs(32).items() if k != 'wind'}
  dataset = tf.data.Dataset.from_tensor_slices((inputs, np.ones((32, 1), 'float32'))).batch(8)
  model.fit(dataset, epochs=1, verbose=0)
  averages = {v.name: v.numpy() for v in model.optimizer._model_variables_moving_average}  # pylint: disable=protected-access
  kernel = model.get_layer('dense').kernel
  assert any(np.allclose(kernel.numpy(), a) for a in averages.values() if a.shape == kernel.shape)


def test_the_weight_average_warms_up_over_the_first_steps():
  """momentum min(0.99, (1 + t) / (10 + t)) at step t: after 3 steps the random start keeps a weight of
  0.1 * 2/11 * 3/12 (0.45% of the average) instead of 0.99^3 with Keras' fixed momentum."""
  weight = tf.Variable([5.0])
  optimizer = forecast_trainer.WarmedUpAverageAdam(0.1, ema_momentum=0.99)
  optimizer.build([weight])
  expected, values = 5.0, []
  for step in range(30):
    optimizer.apply_gradients([(tf.constant([1.0]), weight)])
    momentum = min(0.99, (1 + step) / (10 + step))
    expected = momentum * expected + (1 - momentum) * float(weight.numpy()[0])
    values.append(float(weight.numpy()[0]))
  average = optimizer._model_variables_moving_average[0].numpy()[0]  # pylint: disable=protected-access
  np.testing.assert_allclose(average, expected, rtol=1e-5)
  assert values[-1] < average < values[-10]  # mostly the last steps', not the start's 5.0
  assert optimizer.get_config()['ema_momentum'] == 0.99
