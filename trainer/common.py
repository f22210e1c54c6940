"""The training skeleton the three tasks share: Keras import, strategy, input pipeline, export.

docs/design.md §7: every trainer module imports Keras from here (`from trainer.common import keras`), which is
tf_keras, never Keras 3.
"""
import copy
import dataclasses
import functools
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, TypeVar

from absl import logging as absl_logging

import numpy as np
import tensorflow as tf
import tf_keras as keras  # noqa: F401  (re-exported: the one Keras of the project)
from tf_keras.src.saving.legacy.saved_model import utils as keras_saved_model_utils
import tensorflow_transform as tft

from core.layout import TRANSFORMED_COUNTS_FILE
from core.layout import WARM_START_DIR  # <Model artifact>/warm_start/, beside Format-Serving


MODEL_METADATA_FILE = 'tfx_lstm.json'  # under <saved_model>/assets.extra/
HYPERPARAMETERS_FILE = 'hyperparameters.json'  # under the Trainer's ModelRun: the values training used


# Multi-worker training (issue 11). The launcher of a training cluster (Vertex AI, a Kubeflow TFJob, ...) gives every
# process the same TF_CONFIG: the cluster ({'chief': [...], 'worker': [...]}, host:port lists) and this process'
# task ({'type': 'worker', 'index': 1}). Chief and worker tasks train; other task types (ps, evaluator) do not.
TF_CONFIG = 'TF_CONFIG'
TRAINING_TASK_TYPES = ('chief', 'worker')


def _tf_config() -> Dict[str, Any]:
  return json.loads(os.environ.get(TF_CONFIG) or '{}')


def cluster_workers() -> int:
  """How many processes train together: the chief and worker tasks TF_CONFIG names (1 without TF_CONFIG)."""
  cluster = _tf_config().get('cluster') or {}
  return max(1, sum(len(cluster.get(task_type) or []) for task_type in TRAINING_TASK_TYPES))


def worker_index() -> int:
  """This process' place among the training tasks, 0 to cluster_workers() - 1: the chief first, then the workers."""
  config = _tf_config()
  task = config.get('task') or {}
  index = int(task.get('index', 0))
  if task.get('type') == 'worker' and (config.get('cluster') or {}).get('chief'):
    index += 1
  return index


def is_chief() -> bool:
  """Whether this process writes the Trainer's outputs: always on one machine; in a cluster the 'chief' task or,
  without one, worker 0 (tf.distribute's own rule, multi_worker_util.is_chief)."""
  if cluster_workers() <= 1:
    return True
  config = _tf_config()
  task = config.get('task') or {}
  task_type, index = task.get('type'), int(task.get('index', 0))
  if task_type not in TRAINING_TASK_TYPES:
    raise ValueError(f'{TF_CONFIG} task type {task_type!r}: the Trainer runs as a chief or worker task only')
  return task_type == 'chief' or (task_type == 'worker' and index == 0 and not config['cluster'].get('chief'))


def make_strategy(replicas: int) -> tf.distribute.Strategy:
  """MultiWorkerMirroredStrategy when TF_CONFIG names more than one worker; otherwise MirroredStrategy over all
  local GPUs or, without GPUs, over `replicas` logical CPU devices.

  The logical CPU split must exist before TensorFlow initialises; `split_cpu` does it and the runner
  calls it at start-up.
  """
  if cluster_workers() > 1:
    # Every worker replicates the model on its local GPUs, or on one CPU device without GPUs (so `replicas`, a
    # split of one machine's CPU, does not apply); gradients are all-reduced across workers every step. It must be
    # created before TensorFlow's eager context initialises (collective ops are configured at start-up):
    # TrainingSetup creates it before any op runs.
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    absl_logging.info('MultiWorkerMirroredStrategy: %s %d of a cluster of %d workers, %d replica(s) in all',
                      strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id, cluster_workers(),
                      strategy.num_replicas_in_sync)
    return strategy
  gpus = tf.config.list_logical_devices('GPU')
  if gpus:
    return _mirrored_strategy(tuple(d.name for d in gpus))
  cpus = tf.config.list_logical_devices('CPU')
  if len(cpus) < replicas:
    raise RuntimeError(
        f'{replicas} replicas asked but TensorFlow has {len(cpus)} logical CPU device(s): the CPU must be split '
        'before TensorFlow initialises (tfx-lstm run --replicas N does this at start-up).')
  return _mirrored_strategy(tuple(d.name for d in cpus[:replicas]))


_MIRRORED_STRATEGIES: Dict[Tuple[str, ...], tf.distribute.Strategy] = {}


def _mirrored_strategy(devices: Tuple[str, ...]) -> tf.distribute.Strategy:
  """One MirroredStrategy per device set per process. Every MirroredStrategy numbers its all-reduces from the
  same first key, and TensorFlow remembers each key's tensor shape process-wide: a second strategy over the same
  devices (the Tuner's, then the Trainer's, in one local run) would reuse the first one's keys for other shapes
  and fail with "Shape mismatch in the collective instance"."""
  if devices not in _MIRRORED_STRATEGIES:
    _MIRRORED_STRATEGIES[devices] = tf.distribute.MirroredStrategy(list(devices))
  return _MIRRORED_STRATEGIES[devices]


def chief_writes_outputs(run_fn: Callable[[Any], None]) -> Callable[[Any], None]:
  """Decorates a run_fn so that in a multi-worker cluster only the chief writes the Trainer's outputs.

  Every worker must still run the same code after training, saves included: saving distributed variables runs
  collective ops that need every worker (a worker that skipped them would leave the chief waiting), and all
  workers hold the same weights. So a non-chief runs the run_fn with `serving_model_dir` and `model_run_dir` (and
  with them the warm-start state, the TensorBoard logs and the warm-start record) moved into a local temporary
  directory, deleted when the run_fn returns or fails. A local directory rather than one beside the artifact:
  nothing of a non-chief ever appears in the chief's outputs, even briefly. On one machine: the run_fn unchanged.
  """
  @functools.wraps(run_fn)
  def wrapped(fn_args) -> None:
    if is_chief():
      return run_fn(fn_args)
    task = _tf_config()['task']
    scratch = tempfile.mkdtemp(prefix=f'tfx_lstm_{task["type"]}_{task.get("index", 0)}_')
    try:
      worker_args = copy.copy(fn_args)
      # The artifact layout: <model>/Format-Serving beside <model>/warm_start; the ModelRun folder exists.
      worker_args.serving_model_dir = os.path.join(scratch, 'model', 'Format-Serving')
      worker_args.model_run_dir = os.path.join(scratch, 'model_run')
      os.makedirs(worker_args.model_run_dir)
      absl_logging.info('not the chief: writing the model and logs to %s, deleted afterwards', scratch)
      return run_fn(worker_args)
    finally:
      shutil.rmtree(scratch, ignore_errors=True)

  return wrapped


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


DATASETS_FILE = 'datasets.json'  # under the Trainer's ModelRun: how each split was read (make_dataset's plan)
_SHUFFLE_BUFFER = 50_000  # examples; with the cache off, the most of a split the Trainer holds in memory
_PARSE_BATCH = 1024


def split_files(file_patterns: List[str]) -> List[str]:
  """The TFRecord files of a split (Transform's shards), without the counts file beside them."""
  return sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern) if f.endswith('.gz'))


def split_counts(files: List[str]) -> Tuple[int, int, str]:
  """(examples, serialized bytes, where the numbers came from) of a split's files: the count Transform recorded
  beside them (components/sharded_transform.py), or else one pass that reads the records without parsing them
  (a Transform output of before that file)."""
  directories = sorted({os.path.dirname(f) for f in files})
  recorded = [os.path.join(d, TRANSFORMED_COUNTS_FILE) for d in directories]
  if recorded and all(tf.io.gfile.exists(path) for path in recorded):
    counts = [json.loads(tf.io.gfile.GFile(path).read()) for path in recorded]
    return sum(c['examples'] for c in counts), sum(c['serialized_bytes'] for c in counts), 'Transform'
  lengths = tf.data.TFRecordDataset(files, compression_type='GZIP', num_parallel_reads=tf.data.AUTOTUNE).map(
      lambda record: tf.cast(tf.strings.length(record), tf.int64))
  examples, size = lengths.reduce((np.int64(0), np.int64(0)), lambda acc, n: (acc[0] + 1, acc[1] + n))
  return int(examples), int(size), 'a counting pass'


def make_dataset(file_patterns: List[str], tft_output: tft.TFTransformOutput, label_key: str,
                 batch_size: int, shuffle: bool, seed: int = 0,
                 cache_budget_bytes: int = 2**30) -> Tuple[tf.data.Dataset, Dict[str, Any]]:
  """Transformed TFRecords -> batched (features, label) pairs, read from the files as a stream; `shuffle` marks
  training data. Returns the dataset and what was decided (for the log, the summary and the tests).

  The split's records are parsed in parallel from interleaved shards and prefetched. They are cached in memory
  after the first epoch only when their serialized size is within `cache_budget_bytes`; otherwise every epoch
  reads the files again, and memory holds the shuffle buffer and a few batches. The steps of an epoch come from
  the split's count (split_counts), not from reading the split.

  Across workers (MultiWorkerMirroredStrategy) training data is sharded by file when there are at least as many
  shards as workers: worker i reads shards i, i + N, ... only. Its share is not exactly 1/N, so the training data
  repeats and every worker takes the same number of batches per epoch (collective ops need every worker in every
  step).
  Eval data is sharded by DATA: every worker reads it all and keeps its part of each global batch, so every
  example is evaluated exactly once.
  """
  files = split_files(file_patterns)
  if not files:
    raise ValueError(f'no transformed examples match {file_patterns}')
  examples, size, counted_by = split_counts(files)
  workers = cluster_workers()
  by_file = shuffle and workers > 1 and len(files) >= workers
  if by_file:
    files = files[worker_index()::workers]  # this worker's share of the shards; the others read the rest
    size = size * len(files) // len(split_files(file_patterns))  # what this worker would hold in memory
  cached = size <= cache_budget_bytes
  spec = tft_output.transformed_feature_spec()
  dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda path: tf.data.TFRecordDataset(path, compression_type='GZIP'), cycle_length=min(len(files), 8),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)  # the same order for the same seed
  dataset = (dataset
             .batch(_PARSE_BATCH)
             .map(lambda records: tf.io.parse_example(records, spec), num_parallel_calls=tf.data.AUTOTUNE)
             .unbatch())
  if cached:
    dataset = dataset.cache()
  if shuffle:
    # Training drops the last partial batch: replicas must see equal shapes, or the all-gather of sparse
    # (embedding) gradients fails on the uneven split. Repeated, the remainder opens the next epoch.
    batches = max(1, examples // batch_size)
    # Shuffled before the repeat: every pass is a permutation of its own, no example twice within one.
    dataset = (dataset.shuffle(_SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
               .repeat()
               .batch(batch_size, drop_remainder=examples >= batch_size)
               .take(batches))
  else:
    batches = math.ceil(examples / batch_size)
    dataset = dataset.batch(batch_size).apply(tf.data.experimental.assert_cardinality(batches))
  dataset = dataset.map(lambda f: (f, f.pop(label_key)))
  options = tf.data.Options()
  # Sharded by file above, or by data here. On one machine MirroredStrategy does not shard (one input pipeline
  # feeds its replicas): no effect there.
  options.experimental_distribute.auto_shard_policy = (tf.data.experimental.AutoShardPolicy.OFF if by_file
                                                       else tf.data.experimental.AutoShardPolicy.DATA)
  plan = {'examples': examples, 'serialized_bytes': size, 'counted_by': counted_by, 'files': len(files),
          'cached': cached, 'cache_budget_bytes': cache_budget_bytes, 'batches': batches,
          'sharding': 'file' if by_file else 'data' if workers > 1 else 'none'}
  if by_file:
    plan['worker_files'] = [os.path.basename(f) for f in files]
  absl_logging.info('%s data: %s', 'training' if shuffle else 'eval', plan)
  return dataset.with_options(options).prefetch(tf.data.AUTOTUNE), plan


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
    tuned = (getattr(fn_args, 'hyperparameters', None) or {}).get('values')
    if tuned:  # the Tuner's best trial (--tune): its values replace the configured ones
      self.hparams = dataclasses.replace(self.hparams, **tuned)
      absl_logging.info('hyperparameters from the search: %s', tuned)
    if getattr(fn_args, 'model_run_dir', None) and is_chief():
      # What this training used, for the run's summary and its tests: configured values with the tuned ones applied.
      tf.io.gfile.makedirs(fn_args.model_run_dir)
      with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, HYPERPARAMETERS_FILE), 'w') as f:
        json.dump({'hyperparameters': dataclasses.asdict(self.hparams), 'tuned': sorted(tuned or ())}, f,
                  indent=1, sort_keys=True)
    keras.utils.set_random_seed(self.hparams.seed)
    self.tft_output = tft.TFTransformOutput(fn_args.transform_output)
    # Before the first op runs (reading the datasets' counts): MultiWorkerMirroredStrategy configures collective ops,
    # which TensorFlow allows only before its eager context initialises.
    self.strategy = make_strategy(self.hparams.replicas)
    self._files, self._label_key = (fn_args.train_files, fn_args.eval_files), label_key
    self._model_run_dir = getattr(fn_args, 'model_run_dir', None)
    self._make_datasets()

  def _make_datasets(self) -> None:
    # The global batch: `batch_size` per replica, over every replica of every worker.
    self.batch_size = self.hparams.batch_size * self.strategy.num_replicas_in_sync
    train_files, eval_files = self._files
    budget = self.hparams.cache_budget_mb * 2**20
    self.train, train_plan = make_dataset(train_files, self.tft_output, self._label_key, self.batch_size,
                                          shuffle=True, seed=self.hparams.seed, cache_budget_bytes=budget)
    self.evaluation, eval_plan = make_dataset(eval_files, self.tft_output, self._label_key, self.batch_size,
                                              shuffle=False, cache_budget_bytes=budget)
    self.datasets = {'train': train_plan, 'eval': eval_plan}
    if self._model_run_dir and is_chief():
      with tf.io.gfile.GFile(os.path.join(self._model_run_dir, DATASETS_FILE), 'w') as f:
        json.dump(self.datasets, f, indent=1, sort_keys=True)

  def with_hyperparameters(self, hparams: H) -> 'TrainingSetup':
    """The same setup with other hyperparameters (a tuning trial); datasets rebuilt when the batch size differs."""
    other = copy.copy(self)
    other.hparams = hparams
    if hparams.batch_size != self.hparams.batch_size:
      other._make_datasets()  # pylint: disable=protected-access
    return other


# ----------------------------------------------------------------------------------------------------
# Warm start (docs/design.md §4): every Trainer saves its weights and vocabularies beside the SavedModel;
# the next span's Trainer starts from the latest blessed model's, with vocabulary-indexed rows (embeddings,
# output layers) moved token by token, since each span's vocabulary is recomputed and comes back reordered.

WEIGHTS_FILE, VOCABULARIES_FILE = 'weights.npz', 'vocabularies.json'
RESTORED_FILE = 'restored_weights.npz'  # the weights training started from, after a warm start
WARM_START_RECORD = 'warm_start.json'  # what was restored from where
_KEY_SEPARATOR = '|'  # npz keys are zip member names: no '/'


@dataclasses.dataclass(frozen=True)
class VocabularyAxis:
  """A weight indexed by a vocabulary's ids along `axis` (ids: the vocabulary file's lines, then the OOV
  buckets)."""
  vocabulary: str
  axis: int = 0


def weight_keys(model: keras.Model) -> List[str]:
  """`<layer name>/<weight index>` of every weight, in `model.get_weights()` order; layer names are fixed by
  the model builders, so the keys are stable across processes (weight names get suffixes)."""
  return [f'{layer.name}/{i}' for layer in model.layers for i, _ in enumerate(layer.weights)]


def _weights_by_key(model: keras.Model) -> Dict[str, np.ndarray]:
  values = [w for layer in model.layers for w in layer.get_weights()]
  return dict(zip(weight_keys(model), values))


# The tokens of each vocabulary in id order (the vocabulary file's lines, reserved tokens first).
def vocabulary_lists(tft_output: tft.TFTransformOutput, names: List[str]) -> Dict[str, List[str]]:
  return {name: [t.decode('utf-8', 'surrogateescape') if isinstance(t, bytes) else str(t)
                 for t in tft_output.vocabulary_by_name(name)] for name in names}


def _save_npz(path: str, weights: Dict[str, np.ndarray]) -> None:
  buffer = io.BytesIO()  # a zip needs seeking, which GFile writers (gs:// and the like) do not offer
  np.savez(buffer, **{key.replace('/', _KEY_SEPARATOR): value for key, value in weights.items()})
  with tf.io.gfile.GFile(path, 'wb') as f:
    f.write(buffer.getvalue())


def load_npz(path: str) -> Dict[str, np.ndarray]:
  with tf.io.gfile.GFile(path, 'rb') as f:
    buffer = io.BytesIO(f.read())
  with np.load(buffer) as data:
    return {key.replace(_KEY_SEPARATOR, '/'): data[key] for key in data.files}


def warm_start_dir(model_uri_or_serving_dir: str) -> str:
  """The warm-start folder of a Model artifact, from its uri or its Format-Serving directory."""
  base = model_uri_or_serving_dir.rstrip('/')
  if os.path.basename(base) == 'Format-Serving':
    base = os.path.dirname(base)
  return os.path.join(base, WARM_START_DIR)


def save_warm_start_state(model: keras.Model, fn_args, tft_output: tft.TFTransformOutput,
                          vocabulary_axes: Dict[str, VocabularyAxis]) -> None:
  """Writes the trained weights and the vocabularies they are indexed by, for the next span's warm start."""
  directory = warm_start_dir(fn_args.serving_model_dir)
  tf.io.gfile.makedirs(directory)
  _save_npz(os.path.join(directory, WEIGHTS_FILE), _weights_by_key(model))
  names = sorted({axis.vocabulary for axis in vocabulary_axes.values()})
  with tf.io.gfile.GFile(os.path.join(directory, VOCABULARIES_FILE), 'w') as f:
    json.dump(vocabulary_lists(tft_output, names), f)


def remap_rows(old: np.ndarray, initial: np.ndarray, old_vocabulary: List[str], new_vocabulary: List[str],
               axis: int) -> Tuple[np.ndarray, int]:
  """`initial` with every slice along `axis` whose token the old vocabulary also has replaced by the old
  weights' slice for it; the OOV buckets after the vocabulary keep their positions. Returns (weights, number of
  vocabulary tokens carried over)."""
  old_rows, result = np.moveaxis(old, axis, 0), np.moveaxis(initial.copy(), axis, 0)
  old_index = {token: i for i, token in enumerate(old_vocabulary)}
  carried = 0
  for i, token in enumerate(new_vocabulary):
    j = old_index.get(token)
    if j is not None and j < len(old_rows) and i < len(result):
      result[i] = old_rows[j]
      carried += 1
  oov = min(len(result) - len(new_vocabulary), len(old_rows) - len(old_vocabulary))
  for k in range(max(oov, 0)):
    result[len(new_vocabulary) + k] = old_rows[len(old_vocabulary) + k]
  return np.moveaxis(result, 0, axis), carried


def warm_start(model: keras.Model, fn_args, tft_output: tft.TFTransformOutput,
               vocabulary_axes: Dict[str, VocabularyAxis]) -> Optional[Dict[str, Any]]:
  """Loads the base model's weights (`fn_args.base_model`, the latest blessed model) into `model`, remapping
  vocabulary-indexed weights; returns what was done, or None without a base model. A base model of another
  architecture is not used: logged, and training starts from scratch."""
  if not fn_args.base_model or not tf.io.gfile.exists(fn_args.base_model):
    return None  # no base model, or the Kubeflow profile's empty one: nothing was served yet
  source = warm_start_dir(fn_args.base_model)
  weights_path, vocabularies_path = os.path.join(source, WEIGHTS_FILE), os.path.join(source, VOCABULARIES_FILE)
  record: Dict[str, Any] = {'base_model': fn_args.base_model, 'restored': False}
  if not tf.io.gfile.exists(weights_path):
    record['reason'] = f'{source} has no saved weights'
  else:
    old_weights = load_npz(weights_path)
    with tf.io.gfile.GFile(vocabularies_path) as f:
      old_vocabularies = json.load(f)
    new_vocabularies = vocabulary_lists(tft_output, sorted({a.vocabulary for a in vocabulary_axes.values()}))
    current = _weights_by_key(model)
    restored, carried = {}, {}
    for key, initial in current.items():
      old = old_weights.get(key)
      axis = vocabulary_axes.get(key)
      if old is None:
        record['reason'] = f'the base model has no weight {key}'
        break
      if axis is not None:
        restored[key], carried[axis.vocabulary] = remap_rows(old, initial, old_vocabularies[axis.vocabulary],
                                                             new_vocabularies[axis.vocabulary], axis.axis)
      elif old.shape != initial.shape:
        record['reason'] = f'weight {key} has shape {old.shape} in the base model, {initial.shape} here'
        break
      else:
        restored[key] = old
    else:
      for layer in model.layers:
        if layer.weights:
          layer.set_weights([restored[f'{layer.name}/{i}'] for i in range(len(layer.weights))])
      record.update(restored=True, weights=len(restored), vocabulary_rows_carried=carried,
                    vocabulary_sizes={name: len(v) for name, v in new_vocabularies.items()})
      _save_npz(os.path.join(fn_args.model_run_dir, RESTORED_FILE), restored)
  if not record['restored']:
    absl_logging.warning('warm start skipped, training from scratch: %s', record['reason'])
  with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, WARM_START_RECORD), 'w') as f:
    json.dump(record, f, indent=1, sort_keys=True)
  return record
