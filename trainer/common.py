"""The training skeleton the three tasks share: Keras import, strategy, input pipeline, export.

docs/design.md §7: every trainer module imports Keras from here (`from trainer.common import keras`), which is
tf_keras, never Keras 3.
"""
import dataclasses
import json
import logging
import math
import os
import time
from typing import Any, Callable, Dict, List, Type, TypeVar

from absl import logging as absl_logging

import numpy as np
import tensorflow as tf
import tf_keras as keras  # noqa: F401  (re-exported: the one Keras of the project)
from tf_keras.src.saving.legacy.saved_model import utils as keras_saved_model_utils
import tensorflow_transform as tft


MODEL_METADATA_FILE = 'tfx_lstm.json'  # under <saved_model>/assets.extra/


def make_strategy(replicas: int) -> tf.distribute.Strategy:
  """MirroredStrategy over all local GPUs or, without GPUs, over `replicas` logical CPU devices.

  The logical CPU split must exist before TensorFlow initialises; `split_cpu` does it and the runner
  calls it at start-up.
  """
  gpus = tf.config.list_logical_devices('GPU')
  if gpus:
    return tf.distribute.MirroredStrategy([d.name for d in gpus])
  cpus = tf.config.list_logical_devices('CPU')
  if len(cpus) < replicas:
    raise RuntimeError(
        f'{replicas} replicas asked but TensorFlow has {len(cpus)} logical CPU device(s): the CPU must be split '
        'before TensorFlow initialises (tfx-lstm run --replicas N does this at start-up).')
  return tf.distribute.MirroredStrategy([d.name for d in cpus[:replicas]])


def split_cpu(replicas: int) -> None:
  """Splits the physical CPU into `replicas` logical devices; call before any TensorFlow op runs."""
  if replicas <= 1:
    return
  cpu = tf.config.list_physical_devices('CPU')[0]
  existing = tf.config.get_logical_device_configuration(cpu)
  if existing and len(existing) >= replicas:
    return
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])


def make_dataset(file_patterns: List[str], tft_output: tft.TFTransformOutput, label_key: str,
                 batch_size: int, shuffle: bool, seed: int = 0) -> tf.data.Dataset:
  """Transformed TFRecords -> cached, batched (features, label) pairs; `shuffle` marks training data.

  The transformed data is small (windows or sentences), so it is parsed once and cached in memory;
  later epochs cost no I/O or parsing.
  """
  files = [f for pattern in file_patterns for f in tf.io.gfile.glob(pattern)]
  spec = tft_output.transformed_feature_spec()
  dataset = (tf.data.TFRecordDataset(files, compression_type='GZIP')
             .batch(1024)
             .map(lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE)
             .unbatch()
             .cache())
  # Count once so Keras knows the steps per epoch (needed with steps_per_execution > 1).
  examples = int(dataset.reduce(np.int64(0), lambda count, _: count + 1))
  # Training drops the last partial batch: replicas must see equal shapes, or the all-gather of sparse
  # (embedding) gradients fails on the uneven split. It is a different remainder every epoch (reshuffled).
  drop_remainder = shuffle and examples >= batch_size
  if shuffle:
    dataset = dataset.shuffle(50_000, seed=seed, reshuffle_each_iteration=True)
  batches = examples // batch_size if drop_remainder else math.ceil(examples / batch_size)
  dataset = (dataset.batch(batch_size, drop_remainder=drop_remainder)
             .apply(tf.data.experimental.assert_cardinality(batches))
             .map(lambda f: (f, f.pop(label_key))))
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def raw_example_parser(tft_output: tft.TFTransformOutput, keys: List[str]) -> Callable[[tf.Tensor], Dict]:
  """Returns a function: serialized tf.Examples -> raw features restricted to `keys`."""
  spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k in keys}
  return lambda serialized: tf.io.parse_example(serialized, spec)


def transform_features_signature(model: keras.Model, tft_output: tft.TFTransformOutput, label_key: str):
  """`transform_features`: serialized raw examples -> transformed features (what Evaluator may slice on)."""
  model.tft_layer_eval = tft_output.transform_features_layer()
  spec = tft_output.raw_feature_spec()

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized):
    features = tf.io.parse_example(serialized, spec)
    features.pop(label_key, None)
    return model.tft_layer_eval(features)

  return transform_features


def export_model(model: keras.Model, serving_dir: str, signatures: Dict[str, Any],
                 metadata: Dict[str, Any]) -> None:
  """Writes the SavedModel with its signatures plus a JSON description the CLI's `predict` reads.

  Keras would also trace and save every layer's call functions (what `model.save(save_traces=True)` keeps for
  reloading as Keras); nothing here reloads the model as Keras (serving, TFMA, smoke test and `predict` use the
  signatures; warm start reads the variables), and that tracing was most of the Trainer's time on small data.
  """
  with keras_saved_model_utils.keras_option_scope(save_traces=False):
    tf.saved_model.save(model, serving_dir, signatures=signatures)
  extra = os.path.join(serving_dir, 'assets.extra')
  tf.io.gfile.makedirs(extra)
  with tf.io.gfile.GFile(os.path.join(extra, MODEL_METADATA_FILE), 'w') as f:
    json.dump(metadata, f, indent=1, sort_keys=True)


def read_model_metadata(saved_model_dir: str) -> Dict[str, Any]:
  path = os.path.join(saved_model_dir, 'assets.extra', MODEL_METADATA_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'{saved_model_dir} is not a tfx-lstm model (no assets.extra/{MODEL_METADATA_FILE})')
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


# One log record per epoch in this exact form: the CLI turns it into its live progress line (the arguments are
# epoch, epochs, loss, eval metric name, eval metric value, seconds left).
EPOCH_MESSAGE = 'epoch %d/%d: loss %.4f, eval %s %.4f, %.0fs left'
PROGRESS_LOGGER = 'tfx_lstm.training'


class EpochProgress(keras.callbacks.Callback):
  """Logs every epoch: `EPOCH_MESSAGE` (loss, the eval metric early stopping and the gate care about, an ETA)
  to the `tfx_lstm.training` logger, and all of Keras' numbers to absl's log."""

  def __init__(self, epochs: int, eval_metric: str):
    super().__init__()
    self._epochs, self._eval_metric = epochs, eval_metric
    self._logger = logging.getLogger(PROGRESS_LOGGER)
    self._logger.setLevel(logging.INFO)  # the root logger's default (WARNING) would drop these

  def on_train_begin(self, logs=None):
    self._started = time.time()

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    done = epoch + 1
    seconds_left = (time.time() - self._started) / done * (self._epochs - done)
    self._logger.info(EPOCH_MESSAGE, done, self._epochs, logs.get('loss', math.nan), self._eval_metric,
                      logs.get(f'val_{self._eval_metric}', math.nan), seconds_left)
    absl_logging.info('epoch %d: %s', done, ' '.join(f'{k}={v:.4f}' for k, v in sorted(logs.items())))


def training_callbacks(fn_args, epochs: int, eval_metric: str) -> List[keras.callbacks.Callback]:
  """Progress lines and TensorBoard logs (scalars per epoch under the Trainer's ModelRun artifact)."""
  return [EpochProgress(epochs, eval_metric),
          keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq='epoch', profile_batch=0,
                                      write_graph=False)]


H = TypeVar('H')


def from_config(cls: Type[H], values: Dict[str, Any]) -> H:
  """The dataclass from a config dict that must name every field and nothing else (no fallbacks)."""
  names = {f.name for f in dataclasses.fields(cls)}
  missing, unknown = sorted(names - set(values)), sorted(set(values) - names)
  if missing or unknown:
    raise ValueError(f'{cls.__name__}: config is missing {missing} and has unknown {unknown}')
  return cls(**values)


class TrainingSetup:
  """What every run_fn starts with: its hyperparameters (every field from the config, no fallbacks), seeded
  Keras, transform output, strategy and the train/eval datasets at the global batch size."""

  def __init__(self, fn_args, label_key: str, hyperparameters_class: Type[H]):
    self.config = fn_args.custom_config
    self.hparams: H = from_config(hyperparameters_class, self.config['hyperparameters'])
    keras.utils.set_random_seed(self.hparams.seed)
    self.tft_output = tft.TFTransformOutput(fn_args.transform_output)
    self.strategy = make_strategy(self.hparams.replicas)
    self.batch_size = self.hparams.batch_size * self.strategy.num_replicas_in_sync
    self.train = make_dataset(fn_args.train_files, self.tft_output, label_key, self.batch_size, shuffle=True)
    self.evaluation = make_dataset(fn_args.eval_files, self.tft_output, label_key, self.batch_size, shuffle=False)
