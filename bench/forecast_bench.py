"""Forecast benchmark on the full Beijing PM2.5 data (from --data); results go in bench/README.md.

1. Quality: runs the forecast pipeline (the `tfx-lstm` CLI, fresh root) with 2014 as the test year, then scores
   the pushed model's `forecast_window` signature on every complete 2014 test window against the persistence
   forecast (last observed value) on the same windows.
2. Throughput: on the pipeline's own transformed train windows, in this one process, times epochs of
   (a) this project's training path (trainer.common.make_dataset + forecast_trainer.build_model under
   MirroredStrategy, as run_fn does) and (b) a plain Keras script of the seed's Example 1
   (Sequential LSTM(50, relu) + Dense(1), adam/mse, batch 32, numpy arrays in memory).
   Epoch 1 (tracing, dataset caching) is excluded for both.

Usage: python -m bench.forecast_bench --data DIR [--epochs N] [--out bench/out/forecast] [-- pipeline flags]
DIR holds the full datasets as bench/README.md ("Data") lays them out; this script reads
DIR/timeseries/beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv.
"""
import argparse
import glob
import json
import os
import pathlib
import shutil
import sys
import time

from bench import common as bench_common
from bench.common import EpochTimer
from bench.common import REPO

# The split the quality numbers in bench/README.md use: train 2010-01 to 2013-06, eval 2013-07 to 2013-12,
# test 2014.
EVAL_START, TEST_START = '2013-07-01', '2014-01-01'


def prepare_data(data: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
  """The full 2010-2014 Beijing CSV under --data, reshaped for `tfx-lstm run forecast` into out/data/."""
  (source,) = bench_common.require_data(data, bench_common.BEIJING_CSV)
  target = out / 'data'
  bench_common.load_make_samples().reshape_beijing(source, target / 'beijing_pm25_2010_2014.csv', first_year=2010)
  return target


def pipeline_flags(data_dir: pathlib.Path, root: pathlib.Path, epochs: int, replicas: int, extra=()) -> list:
  """The `tfx-lstm run forecast` flags of the benchmark (2014 as the test year)."""
  return ['--data', str(data_dir), '--root', str(root), '--eval-start', EVAL_START, '--test-start', TEST_START,
          '--epochs', str(epochs), '--replicas', str(replicas), *extra]


def score_test_year(run, model_dir: str):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  examples = next(a for a in run.outputs['Examples'] if 'TimeSeriesWindowGen' in a.uri)
  files = glob.glob(os.path.join(examples.uri, 'Split-test', '*'))
  model = tf.saved_model.load(model_dir)
  signature = model.signatures['forecast_window']
  spec = signature.structured_input_signature[1]
  raw_feature_spec = {name: tf.io.FixedLenFeature([s.shape[1]], s.dtype) for name, s in spec.items()}
  raw_feature_spec['label'] = tf.io.FixedLenFeature([1], tf.float32)
  raw_feature_spec['persistence_forecast'] = tf.io.FixedLenFeature([1], tf.float32)
  forecasts, labels, persistence = [], [], []
  dataset = tf.data.TFRecordDataset(files, compression_type='GZIP').batch(512).map(
      lambda r: tf.io.parse_example(r, raw_feature_spec))
  latencies = []
  for batch in dataset:
    started = time.perf_counter()
    out = signature(**{k: batch[k] for k in spec})['forecast'].numpy()
    latencies.append((time.perf_counter() - started) / len(out))
    forecasts.append(out)
    labels.append(batch['label'].numpy()[:, 0])
    persistence.append(batch['persistence_forecast'].numpy()[:, 0])
  forecasts, labels, persistence = map(np.concatenate, (forecasts, labels, persistence))
  mae = lambda p: float(np.mean(np.abs(p - labels)))  # noqa: E731
  rmse = lambda p: float(np.sqrt(np.mean((p - labels) ** 2)))  # noqa: E731
  return {'test_windows': int(len(labels)), 'mae': mae(forecasts), 'rmse': rmse(forecasts),
          'persistence_mae': mae(persistence), 'persistence_rmse': rmse(persistence)}


def throughput(run, config: dict, epochs: int, replicas: int):
  """Windows/s of our training path vs the seed's Example 1 script on the same transformed train windows.

  Both train the seed's model size (one LSTM layer of 50 units) so the ratio measures the training path,
  not the architecture; ours runs at the seed's batch size (32) and at our default (64).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from preprocessing import forecast_transform  # pylint: disable=g-import-not-at-top
  from trainer import common, forecast_trainer  # pylint: disable=g-import-not-at-top
  from trainer.common import keras  # pylint: disable=g-import-not-at-top
  from trainer.hyperparameters import STEPS_PER_EXECUTION  # pylint: disable=g-import-not-at-top

  transformed = next(a for a in run.outputs['Examples'] if '/Transform/' in a.uri)
  graph = next(a for a in run.outputs['TransformGraph'])
  tft_output = tft.TFTransformOutput(graph.uri)
  patterns = [os.path.join(transformed.uri, 'Split-train', '*')]
  numeric, categorical = config['numeric_features'], config['categorical_features']
  hyperparameters = config['hyperparameters']  # the run's ForecastHyperparameters, as a dict

  # (a) this project's path, as run_fn runs it.
  strategy = common.make_strategy(replicas)
  vocab_sizes = {k: tft_output.vocabulary_size_by_name(forecast_transform.vocabulary_name(k)) + config['num_oov_buckets']
                 for k in categorical}
  model_inputs = numeric + (list(forecast_trainer.CALENDAR_KEYS) if config['time_feature'] else [])
  ours = {}
  for per_replica_batch in (32, 64):
    batch_size = per_replica_batch * strategy.num_replicas_in_sync
    dataset, _ = common.make_dataset(patterns, tft_output, 'label', batch_size, shuffle=True)
    windows = sum(int(b[1].shape[0]) for b in dataset)
    with strategy.scope():
      model = forecast_trainer.build_model(model_inputs, vocab_sizes, config['target_feature'], config['window'],
                                           units=50, layers=1)
      model.compile(optimizer=keras.optimizers.Adam(hyperparameters['learning_rate']),
                    loss=keras.losses.Huber(hyperparameters['huber_delta']), steps_per_execution=STEPS_PER_EXECUTION)
    timer = EpochTimer()
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer.callback])
    ours[per_replica_batch] = timer.windows_per_second(windows)

  # (b) the seed's Example 1 on the same windows as in-memory arrays (numerics + one-hot categoricals).
  columns = {k: [] for k in numeric + categorical + ['label']}
  for features, label in common.make_dataset(patterns, tft_output, 'label', 4096, shuffle=False)[0]:
    for k in numeric + categorical:
      columns[k].append(features[k].numpy())
    columns['label'].append(label.numpy())
  arrays = {k: np.concatenate(v) for k, v in columns.items()}
  parts = [arrays[k][..., None] for k in numeric]
  parts += [np.eye(vocab_sizes[k], dtype='float32')[arrays[k]] for k in categorical]
  x_train, y_train = np.concatenate(parts, axis=-1).astype('float32'), arrays['label']
  timesteps, features = x_train.shape[1:]
  seed_model = keras.Sequential([
      keras.layers.LSTM(50, activation='relu', input_shape=(timesteps, features)),
      keras.layers.Dense(1),
  ])
  seed_model.compile(optimizer='adam', loss='mse', metrics=['mae'])
  seed = EpochTimer()
  seed_model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0, callbacks=[seed.callback])
  return {'train_windows': windows, 'ours_windows_per_s_batch32': ours[32], 'ours_windows_per_s_batch64': ours[64],
          'seed_windows_per_s': seed.windows_per_second(len(x_train)), 'replicas': strategy.num_replicas_in_sync}


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  bench_common.add_data_flag(parser)
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'forecast')
  parser.add_argument('--epochs', type=int, default=8)
  parser.add_argument('--throughput-epochs', type=int, default=3)
  parser.add_argument('--replicas', type=int, default=1)
  parser.add_argument('--reuse', action='store_true', help='score and time the previous run in --out again')
  parser.add_argument('pipeline_flags', nargs='*', help='extra `tfx-lstm run forecast` flags (after --)')
  args = parser.parse_args()

  out = args.out
  pipeline_seconds, run_id = None, None
  if not args.reuse:
    bench_common.require_data(args.data, bench_common.BEIJING_CSV)  # before deleting the last run
    shutil.rmtree(out, ignore_errors=True)
    data_dir = prepare_data(args.data, out)
    run = bench_common.run_pipeline('forecast', pipeline_flags(data_dir, out / 'root', args.epochs, args.replicas,
                                                               args.pipeline_flags))
    pipeline_seconds, run_id = round(run.seconds), run.run_id

  from trainer.common import split_cpu  # pylint: disable=g-import-not-at-top
  split_cpu(args.replicas)  # before TensorFlow initialises its devices (loading the model below does)
  run = bench_common.read_run(out / 'root', 'forecast', run_id)
  pushed = bench_common.pushed_model_dir(run)
  model_dir = pushed or os.path.join(run.output('Model').uri, 'Format-Serving')
  quality = score_test_year(run, model_dir)
  config = json.loads(run.properties['Trainer']['custom_config'])
  speed = throughput(run, config, args.throughput_epochs, args.replicas)
  results = {'run_id': run.run_id, 'pipeline_seconds': pipeline_seconds, 'pushed': bool(pushed), **quality, **speed}
  results['mae_gain_vs_persistence'] = 1 - quality['mae'] / quality['persistence_mae']
  results['rmse_gain_vs_persistence'] = 1 - quality['rmse'] / quality['persistence_rmse']
  results['throughput_ratio_batch32'] = speed['ours_windows_per_s_batch32'] / speed['seed_windows_per_s']
  results['throughput_ratio_batch64'] = speed['ours_windows_per_s_batch64'] / speed['seed_windows_per_s']
  print(json.dumps(results, indent=1))
  (out / 'results.json').write_text(json.dumps(results, indent=1))
  return 0


if __name__ == '__main__':
  sys.exit(main())
