"""Sentiment benchmarks; results go in bench/README.md.

1. Quality: `tfx-lstm run sentiment` on the full SST-2 train set (67,349) with the dev set (872) as eval; dev
   accuracy of the pushed model through its raw-sentence signature.
2. Served latency: one raw sentence through `classify_sentences`, p50/p90 over 200 calls (--latency-calls) after
   20 warm-up calls.
3. Training throughput: on the pipeline's transformed train split, in one process, epochs of this project's
   path (trainer.common.make_dataset + sentiment_trainer.build_model under MirroredStrategy) vs a plain Keras
   script of the seed's Example 2 (Embedding, Bidirectional(LSTM(64)), Dense sigmoid, batch 64, numpy arrays).
4. TFX's own IMDB example (tfx/examples/imdb in the installed wheel: CsvExampleGen, Transform, Trainer with its
   own module file, 500 steps, BeamDagRunner) and this pipeline on the same 100 reviews, in this session:
   wall time and eval accuracy of both. `--part imdb-ours` runs our side only (the smoke test's: a hundred rows
   of free text must pass the data check).

Usage: python -m bench.sentiment_bench --data DIR [--part quality,throughput,imdb] [--epochs N] [-- pipeline flags]
DIR holds the full datasets as bench/README.md ("Data") lays them out; the quality part reads
DIR/sentiment/sst2/train.tsv and dev.tsv (throughput re-uses the quality run in --out, imdb needs no --data).
"""
import argparse
import csv
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from bench import common as bench_common
from bench.common import EpochTimer
from bench.common import REPO


def _copy_sst2(data: pathlib.Path, target: pathlib.Path) -> None:
  """Full SST-2 train and dev with the header renamed to the task's defaults (text, label)."""
  target.mkdir(parents=True, exist_ok=True)
  for name, source in zip(('train.tsv', 'dev.tsv'), bench_common.require_data(data, bench_common.SST2_TRAIN,
                                                                             bench_common.SST2_DEV)):
    lines = source.read_text(encoding='utf-8').split('\n', 1)
    (target / name).write_text('text\tlabel\n' + lines[1], encoding='utf-8')


def quality_and_latency(data: pathlib.Path, out: pathlib.Path, epochs: int, extra_flags,
                        latency_calls: int = 200) -> dict:
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  _copy_sst2(data, out / 'sst2')
  pipeline_run = bench_common.run_pipeline('sentiment', ['--data', str(out / 'sst2'), '--root', str(out / 'root'),
                                                         '--epochs', str(epochs), *extra_flags])
  run = bench_common.read_run(out / 'root', 'sentiment', pipeline_run.run_id)
  model = tf.saved_model.load(bench_common.require_pushed(run))
  classify = model.signatures['classify_sentences']
  with open(out / 'sst2' / 'dev.tsv', encoding='utf-8') as f:
    rows = [line.rstrip('\n').split('\t') for line in f.readlines()[1:] if line.strip()]
  sentences, labels = [r[0] for r in rows], np.array([int(r[1]) for r in rows])
  probabilities = classify(text=tf.constant(sentences))['probability'].numpy()
  one = tf.constant(['a gripping , beautifully acted and surprisingly funny film .'])
  for _ in range(min(20, latency_calls)):  # warm-up
    classify(text=one)
  latencies = []
  for _ in range(latency_calls):
    started = time.perf_counter()
    classify(text=one)['probability'].numpy()
    latencies.append(time.perf_counter() - started)
  return {'run_id': run.run_id, 'pipeline_seconds': round(pipeline_run.seconds), 'dev_sentences': len(labels),
          'dev_accuracy': float(np.mean((probabilities >= 0.5) == labels)),
          'latency_ms_p50': 1000 * float(np.percentile(latencies, 50)),
          'latency_ms_p90': 1000 * float(np.percentile(latencies, 90))}


def throughput(out: pathlib.Path, epochs: int, run_id=None) -> dict:
  """Sentences/s: our training path vs the seed's Example 2 on the same transformed train split of run `run_id`
  (default: the latest sentiment run under out/root)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from trainer import common, sentiment_trainer  # pylint: disable=g-import-not-at-top
  from trainer.common import keras  # pylint: disable=g-import-not-at-top
  from trainer.hyperparameters import STEPS_PER_EXECUTION  # pylint: disable=g-import-not-at-top

  run = bench_common.read_run(out / 'root', 'sentiment', run_id)
  config = json.loads(run.properties['Trainer']['custom_config'])
  transformed = next(a for a in run.outputs['Examples'] if '/Transform/' in a.uri)
  tft_output = tft.TFTransformOutput(run.outputs['TransformGraph'][0].uri)
  patterns = [os.path.join(transformed.uri, 'Split-train', '*')]
  vocab_size = tft_output.vocabulary_size_by_name(sentiment_trainer.VOCABULARY_NAME) + config['num_oov_buckets']
  batch = 64

  dataset, _ = common.make_dataset(patterns, tft_output, 'label', batch, shuffle=True)
  sentences = sum(int(b[1].shape[0]) for b in dataset)
  strategy = common.make_strategy(1)
  with strategy.scope():
    model = sentiment_trainer.build_model(vocab_size, config['max_length'], embedding_dim=64, units=64)
    model.compile(optimizer='adam', loss='binary_crossentropy', steps_per_execution=STEPS_PER_EXECUTION)
  ours = EpochTimer()
  model.fit(dataset, epochs=epochs, verbose=0, callbacks=[ours.callback])

  tokens, labels = [], []
  for features, label in common.make_dataset(patterns, tft_output, 'label', 4096, shuffle=False)[0]:
    tokens.append(features['tokens'].numpy())
    labels.append(label.numpy())
  x_train, y_train = np.concatenate(tokens), np.concatenate(labels)
  seed_model = keras.Sequential([
      keras.layers.Embedding(vocab_size, 64, input_length=config['max_length']),
      keras.layers.Bidirectional(keras.layers.LSTM(64)),
      keras.layers.Dense(1, activation='sigmoid'),
  ])
  seed_model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
  seed = EpochTimer()
  seed_model.fit(x_train, y_train, epochs=epochs, batch_size=batch, verbose=0, callbacks=[seed.callback])
  ours_rate, seed_rate = ours.windows_per_second(sentences), seed.windows_per_second(len(x_train))
  return {'train_sentences': sentences, 'ours_sentences_per_s': ours_rate, 'seed_sentences_per_s': seed_rate,
          'throughput_ratio': ours_rate / seed_rate}


def imdb_reviews_to_tsv(source: pathlib.Path, target: pathlib.Path) -> int:
  """The IMDB example's CSV (text, label; quoted, multi-line reviews) as `text<TAB>label` rows with each review's
  whitespace collapsed (the sentiment task reads tab-separated files without quoting); returns the row count."""
  target.parent.mkdir(parents=True, exist_ok=True)
  rows = 0
  with open(source, newline='', encoding='utf-8') as src, open(target, 'w', encoding='utf-8') as dst:
    dst.write('text\tlabel\n')
    for row in csv.DictReader(src):
      dst.write(' '.join(row['text'].split()) + '\t' + row['label'] + '\n')
      rows += 1
  return rows


def imdb_ours(out: pathlib.Path, epochs: int) -> dict:
  """This pipeline on the 100 reviews of TFX's IMDB example (a user's first try with a hundred rows)."""
  import tfx.examples.imdb as imdb_package  # pylint: disable=g-import-not-at-top
  from records import evaluation as evaluation_records  # pylint: disable=g-import-not-at-top
  source = pathlib.Path(imdb_package.__file__).parent / 'data' / 'imdb_small_with_labels.txt'
  work = out / 'imdb'
  shutil.rmtree(work / 'ours_data', ignore_errors=True)
  shutil.rmtree(work / 'ours_root', ignore_errors=True)
  # The same rows as tab-separated text (our reader does no CSV quoting).
  imdb_reviews_to_tsv(source, work / 'ours_data' / 'reviews.tsv')
  ours = bench_common.run_pipeline('sentiment', ['--data', str(work / 'ours_data'), '--root', str(work / 'ours_root'),
                                                 '--epochs', str(epochs), '--patience', '0', '--min-auc', '0',
                                                 '--max-length', '256'])
  record = bench_common.read_run(work / 'ours_root', 'sentiment', ours.run_id)
  metrics = evaluation_records.sliced_metrics(record.output('ModelEvaluation').uri).get((), {})
  return {'imdb_ours_run_id': ours.run_id, 'imdb_ours_seconds': round(ours.seconds),
          'imdb_ours_accuracy': metrics.get('binary_accuracy'), 'imdb_ours_eval_examples': metrics.get('example_count')}


def imdb_theirs(out: pathlib.Path) -> dict:
  """TFX's IMDB example, as its module defines it (module file, 500 train steps, Beam multi-processing), on its
  own 100 reviews, in a fresh process like ours, so both timings include interpreter start-up and imports."""
  import tfx.examples.imdb as imdb_package  # pylint: disable=g-import-not-at-top
  from records import evaluation as evaluation_records  # pylint: disable=g-import-not-at-top
  example_dir = pathlib.Path(imdb_package.__file__).parent
  work = out / 'imdb'
  for name in ('theirs_data', 'theirs_root', 'theirs_serving'):
    shutil.rmtree(work / name, ignore_errors=True)
  (work / 'theirs_metadata.db').unlink(missing_ok=True)
  (work / 'theirs_data').mkdir(parents=True)
  shutil.copy(example_dir / 'data' / 'imdb_small_with_labels.txt', work / 'theirs_data' / 'data.csv')
  # The program is a constant and the paths are its arguments: no code is built from paths.
  launch = (
      'import sys\n'
      'from tfx.examples.imdb import imdb_pipeline_native_keras as theirs\n'
      'from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner\n'
      'root, data, module, serving, metadata = sys.argv[1:]\n'
      'BeamDagRunner().run(theirs._create_pipeline(pipeline_name="imdb_native_keras", pipeline_root=root, '
      'data_root=data, module_file=module, serving_model_dir=serving, metadata_path=metadata, '
      'beam_pipeline_args=theirs._beam_pipeline_args))\n')
  started = time.time()
  subprocess.run([sys.executable, '-c', launch, str(work / 'theirs_root'), str(work / 'theirs_data'),
                  str(example_dir / 'imdb_utils_native_keras.py'), str(work / 'theirs_serving'),
                  str(work / 'theirs_metadata.db')], cwd=work, check=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
  seconds = time.time() - started
  evaluation = sorted(glob.glob(str(work / 'theirs_root' / 'Evaluator' / 'evaluation' / '*')))[-1]
  metrics = evaluation_records.sliced_metrics(evaluation).get((), {})
  return {'imdb_theirs_seconds': round(seconds), 'imdb_theirs_accuracy': metrics.get('binary_accuracy'),
          'imdb_theirs_eval_examples': metrics.get('example_count')}


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  bench_common.add_data_flag(parser)
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'sentiment')
  parser.add_argument('--part', default='quality,throughput,imdb')
  parser.add_argument('--epochs', type=int, default=5)
  parser.add_argument('--throughput-epochs', type=int, default=3)
  # Epochs after the first cost ~0.3 s on 90 reviews; theirs trains 500 steps.
  parser.add_argument('--imdb-epochs', type=int, default=30, help='our side of the IMDB comparison')
  parser.add_argument('--latency-calls', type=int, default=200, help='timed one-sentence calls (default: %(default)s)')
  parser.add_argument('pipeline_flags', nargs='*', help='extra `tfx-lstm run sentiment` flags (after --)')
  args = parser.parse_args()
  out = args.out
  parts = set(args.part.split(','))
  if 'quality' in parts:
    bench_common.require_data(args.data, bench_common.SST2_TRAIN, bench_common.SST2_DEV)
  results_path = out / 'results.json'
  results = json.loads(results_path.read_text()) if results_path.exists() else {}
  run_id = None
  if 'quality' in parts:
    shutil.rmtree(out / 'root', ignore_errors=True)
    results.update(quality_and_latency(args.data, out, args.epochs, args.pipeline_flags, args.latency_calls))
    run_id = results['run_id']
  if 'throughput' in parts:
    results.update(throughput(out, args.throughput_epochs, run_id))
  if parts & {'imdb', 'imdb-ours'}:
    results.update(imdb_ours(out, args.imdb_epochs))
  if 'imdb' in parts:
    results.update(imdb_theirs(out))
    results['imdb_time_ratio'] = results['imdb_ours_seconds'] / results['imdb_theirs_seconds']
  out.mkdir(parents=True, exist_ok=True)
  results_path.write_text(json.dumps(results, indent=1))
  print(json.dumps(results, indent=1))
  return 0


if __name__ == '__main__':
  sys.exit(main())
