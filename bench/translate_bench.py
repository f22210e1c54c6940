"""Translate benchmark; results go in bench/README.md.

On the first 50,000 pairs of the Tatoeba fra.txt:
1. `tfx-lstm run translate` (hash split 90/10 by English sentence); corpus BLEU of the pushed model on the eval
   split through its `translate_sentences` signature, and its latency for one sentence (p50/p90 over 200 calls,
   --latency-calls).
2. A plain Keras script of the seed's Example 3 on the same train/eval pairs (read back from the pipeline's
   ExampleGen output), the same epochs: TextVectorization, Embedding + LSTM
   with return_state -> decoder LSTM from the encoder states -> Dense softmax, rmsprop, batch 64; greedy
   decoding with a Python loop over decoder steps (the tutorials' decode_sequence). Its BLEU on the same eval
   pairs with the same scorer, and its per-sentence latency.
   Its text goes through this project's normaliser (lower-case, punctuation as tokens) and its output through
   the same detokenisation, so the BLEU difference is the model and training, not the tokenizer (Keras's
   default standardisation strips punctuation, which would cost the seed script every `.` and `?`).
   One change from the seed: sparse targets with sparse_categorical_crossentropy (the same loss as one-hot
   categorical_crossentropy; one-hot targets of 45k pairs x 17 steps x 10k words would need ~30 GB).
3. Training throughput (pairs/s, epochs after the first): this project's training path
   (trainer.common.make_dataset + trim_padding + translate_trainer.build_model) vs the seed script's epochs,
   same model size (embedding and LSTM 256), same process.

Usage: python -m bench.translate_bench --data DIR [--pairs 50000] [--epochs 6] [-- pipeline flags]
DIR holds the full datasets as bench/README.md ("Data") lays them out; this script reads
DIR/translation/fra-eng/fra.txt (not needed with --reuse).
"""
import argparse
import glob
import json
import os
import pathlib
import re
import shutil
import sys
import time
from typing import Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import common as bench_common  # noqa: E402  pylint: disable=g-import-not-at-top
from bench.common import EpochTimer  # noqa: E402  pylint: disable=g-import-not-at-top

LATENT_DIM = 256  # the seed's latent_dim, also its embedding size


def _split_pairs(run):
  """(train, eval) lists of (source, target) from the run's ExampleGen output."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  examples = next(a for a in run.outputs['Examples'] if '/FileBasedExampleGen/' in a.uri)  # raw pairs
  split = {}
  for name in ('train', 'eval'):
    files = sorted(glob.glob(os.path.join(examples.uri, f'Split-{name}', '*')))
    split[name] = []
    for record in tf.data.TFRecordDataset(files, compression_type='GZIP'):
      feature = tf.train.Example.FromString(record.numpy()).features.feature
      split[name].append((feature['source'].bytes_list.value[0].decode(), feature['target'].bytes_list.value[0].decode()))
  return split['train'], split['eval']


def _bleu(hypotheses, references) -> float:
  import sacrebleu  # pylint: disable=g-import-not-at-top
  return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], lowercase=True).score


def _latency(translate_one, sentence: str, calls: int = 200):
  import numpy as np  # pylint: disable=g-import-not-at-top
  for _ in range(min(10, calls)):  # warm-up
    translate_one(sentence)
  times = []
  for _ in range(calls):
    started = time.perf_counter()
    translate_one(sentence)
    times.append(time.perf_counter() - started)
  return 1000 * float(np.percentile(times, 50)), 1000 * float(np.percentile(times, 90))


def ours(out: pathlib.Path, epochs: int, extra_flags, reuse: bool, latency_calls: int = 200) -> dict:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  pipeline_run = None if reuse else bench_common.run_pipeline(
      'translate', ['--data', str(out / 'data'), '--pattern', 'fra_first.txt', '--root', str(out / 'root'),
                    '--epochs', str(epochs), *extra_flags])
  run = bench_common.read_run(out / 'root', 'translate', pipeline_run and pipeline_run.run_id)
  train, evaluation = _split_pairs(run)
  signature = tf.saved_model.load(bench_common.require_pushed(run)).signatures['translate_sentences']
  sources = [s for s, _ in evaluation]
  hypotheses = []
  for start in range(0, len(sources), 256):
    hypotheses += [t.decode() for t in signature(source=tf.constant(sources[start:start + 256]))['translation'].numpy()]
  p50, p90 = _latency(lambda s: signature(source=tf.constant([s]))['translation'].numpy(), 'I am hungry.',
                      latency_calls)
  (out / 'ours_translations.txt').write_text(
      '\n'.join(f'{s}\t{h}\t{r}' for (s, r), h in zip(evaluation, hypotheses)), encoding='utf-8')
  timing = {} if pipeline_run is None else {'ours_pipeline_seconds': round(pipeline_run.seconds)}
  return {**timing, 'run_id': run.run_id, 'train_pairs': len(train), 'eval_pairs': len(evaluation),
          'ours_bleu': _bleu(hypotheses, [r for _, r in evaluation]),
          'ours_latency_ms_p50': p50, 'ours_latency_ms_p90': p90}


def seed_script(out: pathlib.Path, epochs: int, vocab_sizes, run_id=None, latency_calls: int = 200) -> dict:
  """The seed's Example 3 as users write it, trained and decoded on the split of pipeline run `run_id` (default:
  the latest translate run under out/root)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer.common import keras  # pylint: disable=g-import-not-at-top
  train, evaluation = _split_pairs(bench_common.read_run(out / 'root', 'translate', run_id))
  source_vocab, target_vocab = vocab_sizes
  max_len_encoder, max_len_decoder = 16, 17
  from preprocessing import text  # pylint: disable=g-import-not-at-top
  standardize = lambda t: tf.reshape(text.normalize(t), tf.shape(t))  # noqa: E731
  source_vectorizer = keras.layers.TextVectorization(max_tokens=source_vocab, standardize=standardize,
                                                     output_sequence_length=max_len_encoder)
  target_vectorizer = keras.layers.TextVectorization(max_tokens=target_vocab, standardize=standardize,
                                                     output_sequence_length=max_len_decoder + 1)
  source_vectorizer.adapt([s for s, _ in train])
  target_vectorizer.adapt([f'startseq {t} endseq' for _, t in train])
  encoder_input_data = source_vectorizer([s for s, _ in train]).numpy()
  target_ids = target_vectorizer([f'startseq {t} endseq' for _, t in train]).numpy()
  decoder_input_data, decoder_target_data = target_ids[:, :-1], target_ids[:, 1:]
  num_encoder_tokens, num_decoder_tokens = source_vectorizer.vocabulary_size(), target_vectorizer.vocabulary_size()

  keras.utils.set_random_seed(0)
  encoder_inputs = keras.Input(shape=(max_len_encoder,))
  encoder = keras.layers.Embedding(num_encoder_tokens, LATENT_DIM)(encoder_inputs)
  encoder_outputs, state_h, state_c = keras.layers.LSTM(LATENT_DIM, return_state=True)(encoder)
  encoder_states = [state_h, state_c]
  decoder_inputs = keras.Input(shape=(None,))
  decoder_embedding_layer = keras.layers.Embedding(num_decoder_tokens, LATENT_DIM)
  decoder_lstm = keras.layers.LSTM(LATENT_DIM, return_sequences=True, return_state=True)
  decoder_outputs, _, _ = decoder_lstm(decoder_embedding_layer(decoder_inputs), initial_state=encoder_states)
  decoder_dense = keras.layers.Dense(num_decoder_tokens, activation='softmax')
  model = keras.Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_outputs))
  model.compile(optimizer='rmsprop', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
  timer = EpochTimer()
  started = time.time()
  model.fit([encoder_input_data, decoder_input_data], decoder_target_data, batch_size=64, epochs=epochs,
            verbose=0, callbacks=[timer.callback])
  train_seconds = time.time() - started

  # Inference models (the tutorials' pattern) and greedy decoding with a Python loop over steps.
  encoder_model = keras.Model(encoder_inputs, encoder_states)
  state_inputs = [keras.Input(shape=(LATENT_DIM,)), keras.Input(shape=(LATENT_DIM,))]
  step_outputs, h, c = decoder_lstm(decoder_embedding_layer(decoder_inputs), initial_state=state_inputs)
  decoder_model = keras.Model([decoder_inputs, *state_inputs], [decoder_dense(step_outputs), h, c])
  words = target_vectorizer.get_vocabulary()
  start_id, end_id = words.index('startseq'), words.index('endseq')

  def decode_batch(sentences):
    states = encoder_model(source_vectorizer(sentences), training=False)
    token = np.full((len(sentences), 1), start_id)
    out = [[] for _ in sentences]
    done = np.zeros(len(sentences), bool)
    for _ in range(max_len_decoder):
      probabilities, h, c = decoder_model([token, *states], training=False)
      states = [h, c]
      token = np.argmax(probabilities.numpy()[:, -1, :], axis=-1)[:, None]
      for i, t in enumerate(token[:, 0]):
        if not done[i]:
          if t == end_id:
            done[i] = True
          else:
            out[i].append(words[t])
      if done.all():
        break
    return [re.sub(r" '", "'", re.sub(r' ([.,)])', r'\1', ' '.join(w))) for w in out]  # as ids_to_text

  sources = [s for s, _ in evaluation]
  hypotheses = []
  for start in range(0, len(sources), 256):
    hypotheses += decode_batch(sources[start:start + 256])
  p50, p90 = _latency(lambda s: decode_batch([s]), 'I am hungry.', latency_calls)
  (out / 'seed_translations.txt').write_text(
      '\n'.join(f'{s}\t{h}\t{r}' for (s, r), h in zip(evaluation, hypotheses)), encoding='utf-8')
  return {'seed_bleu': _bleu(hypotheses, [r for _, r in evaluation]), 'seed_train_seconds': round(train_seconds),
          'seed_latency_ms_p50': p50, 'seed_latency_ms_p90': p90,
          'seed_pairs_per_s': timer.windows_per_second(len(encoder_input_data)),
          'seed_vocabularies': [num_encoder_tokens, num_decoder_tokens]}


def our_throughput(out: pathlib.Path, epochs: int, run_id=None) -> dict:
  """Pairs/s of this project's training path at the seed's size (embedding and LSTM 256), one replica, on the
  transformed train split of run `run_id` (default: the latest translate run under out/root)."""
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from trainer import common, translate_trainer  # pylint: disable=g-import-not-at-top
  from trainer.hyperparameters import STEPS_PER_EXECUTION  # pylint: disable=g-import-not-at-top
  run = bench_common.read_run(out / 'root', 'translate', run_id)
  config = json.loads(run.properties['Trainer']['custom_config'])
  transformed = next(a for a in run.outputs['Examples'] if '/Transform/' in a.uri)
  tft_output = tft.TFTransformOutput(run.outputs['TransformGraph'][0].uri)
  dataset = common.make_dataset([os.path.join(transformed.uri, 'Split-train', '*')], tft_output,
                                'target_tokens', 64, shuffle=True)[0].map(translate_trainer.trim_padding)
  pairs = sum(int(b[1].shape[0]) for b in dataset)
  source_vocab, target_vocab = translate_trainer.vocabulary_sizes(tft_output, config['num_oov_buckets'])
  seq2seq = translate_trainer.build_model(source_vocab, target_vocab, config['max_target_length'],
                                          embedding_dim=LATENT_DIM, units=LATENT_DIM)
  translate_trainer.compile_model(seq2seq, 1e-3, STEPS_PER_EXECUTION)
  timer = EpochTimer()
  seq2seq.training.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer.callback])
  return {'ours_pairs_per_s': timer.windows_per_second(pairs), 'ours_vocabularies': [source_vocab, target_vocab]}


def beam_sizes(out: pathlib.Path, sizes: Sequence[int], run_id=None, latency_calls: int = 200) -> dict:
  """Held-out BLEU and one-sentence latency of run `run_id`'s trained model (default: the latest translate run
  under out/root) decoded with each beam size: the model is rebuilt from the Trainer's config and its saved
  weights (the warm-start copy beside the SavedModel), so every size decodes the same weights."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from trainer import common, translate_trainer  # pylint: disable=g-import-not-at-top
  from trainer.hyperparameters import TranslateHyperparameters  # pylint: disable=g-import-not-at-top
  run = bench_common.read_run(out / 'root', 'translate', run_id)
  config = json.loads(run.properties['Trainer']['custom_config'])
  model_uri = next(a.uri for a in run.outputs['Model'] if '/Trainer/' in a.uri)
  with open(os.path.join(run.outputs['ModelRun'][0].uri, common.HYPERPARAMETERS_FILE), encoding='utf-8') as f:
    # What the Trainer used, tuned values included.
    hparams = common.from_config(TranslateHyperparameters, json.load(f)['hyperparameters'])
  tft_output = tft.TFTransformOutput(run.outputs['TransformGraph'][0].uri)
  seq2seq = translate_trainer.model_of(tft_output, config, hparams)
  saved = common.load_npz(os.path.join(common.warm_start_dir(model_uri), common.WEIGHTS_FILE))
  seq2seq.training.set_weights([saved[key] for key in common.weight_keys(seq2seq.training)])
  _, evaluation = _split_pairs(run)
  sources, references = [s for s, _ in evaluation], [r for _, r in evaluation]
  results = {'beam_run_id': run.run_id, 'beam_attention': hparams.attention}
  for size in sizes:
    translate = serving_function(seq2seq, tft_output, config, size)
    hypotheses = []
    for start in range(0, len(sources), 256):
      hypotheses += [t.decode() for t in translate(tf.constant(sources[start:start + 256]))['translation'].numpy()]
    p50, _ = _latency(lambda s: translate(tf.constant([s])), 'I am hungry.',  # pylint: disable=cell-var-from-loop
                      latency_calls)
    (out / f'beam{size}_translations.txt').write_text(
        '\n'.join(f'{s}\t{h}\t{r}' for s, h, r in zip(sources, hypotheses, references)), encoding='utf-8')
    results[f'beam{size}_bleu'], results[f'beam{size}_latency_ms_p50'] = _bleu(hypotheses, references), p50
  return results


def serving_function(seq2seq, tft_output, config: dict, beam_size: int):
  """The `translate_sentences` function the Trainer would export with `beam_size`."""
  from trainer import translate_trainer  # pylint: disable=g-import-not-at-top
  signatures = translate_trainer.serving_signatures(seq2seq, tft_output, config['source_column'],
                                                    config['target_column'], beam_size=beam_size)
  return signatures[translate_trainer.SENTENCE_SIGNATURE]


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  bench_common.add_data_flag(parser)
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'translate')
  parser.add_argument('--part', default='ours,seed,throughput',
                      help='comma-separated: ours, seed, throughput, beams (default: %(default)s)')
  parser.add_argument('--beam-sizes', default='1,4', help='beam sizes the beams part decodes with (default: %(default)s)')
  parser.add_argument('--pairs', type=int, default=50_000)
  parser.add_argument('--epochs', type=int, default=6)
  parser.add_argument('--throughput-epochs', type=int, default=3)
  parser.add_argument('--latency-calls', type=int, default=200, help='timed one-sentence calls (default: %(default)s)')
  parser.add_argument('--reuse', action='store_true', help='score the last pipeline run instead of running it')
  parser.add_argument('pipeline_flags', nargs='*', help='extra `tfx-lstm run translate` flags (after --)')
  args = parser.parse_args()
  out = args.out
  parts = set(args.part.split(','))
  run_new = 'ours' in parts and not args.reuse
  if run_new:
    (source,) = bench_common.require_data(args.data, bench_common.FRA_ENG_TXT)
  results_path = out / 'results.json'
  results = json.loads(results_path.read_text()) if results_path.exists() else {}
  run_id = None
  if 'ours' in parts:
    if run_new:
      shutil.rmtree(out / 'root', ignore_errors=True)
      (out / 'data').mkdir(parents=True, exist_ok=True)
      lines = source.read_text(encoding='utf-8').split('\n')[:args.pairs]
      (out / 'data' / 'fra_first.txt').write_text('\n'.join(lines) + '\n', encoding='utf-8')
      results.update({'pairs': args.pairs, 'epochs': args.epochs, 'ours_flags': args.pipeline_flags})
    results.update(ours(out, args.epochs, args.pipeline_flags, args.reuse, args.latency_calls))
    run_id = results['run_id']
    results_path.write_text(json.dumps(results, indent=1))
  if 'seed' in parts:
    results.update(seed_script(out, args.epochs, (8000, 10000), run_id, args.latency_calls))
    results['bleu_ratio'] = results['ours_bleu'] / results['seed_bleu'] if results['seed_bleu'] else float('inf')
    results_path.write_text(json.dumps(results, indent=1))
  if 'beams' in parts:
    results.update(beam_sizes(out, [int(k) for k in args.beam_sizes.split(',')], run_id, args.latency_calls))
    results_path.write_text(json.dumps(results, indent=1))
  if 'throughput' in parts:
    results.update(our_throughput(out, args.throughput_epochs, run_id))
    results['throughput_ratio'] = results['ours_pairs_per_s'] / results['seed_pairs_per_s']
  out.mkdir(parents=True, exist_ok=True)
  results_path.write_text(json.dumps(results, indent=1))
  print(json.dumps(results, indent=1))
  return 0


if __name__ == '__main__':
  sys.exit(main())
