"""Tier 1/2: the encoder-decoder builder, its masked loss, and in-graph greedy decoding through the exported
signature on a toy language (reverse the words), with a real tf.Transform graph and vocabulary asset."""
import itertools
import os

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from tensorflow_transform.tf_metadata import metadata_io

from preprocessing import translate_transform
from trainer import common
from trainer import translate_trainer


def test_shapes_and_shared_layers():
  seq2seq = translate_trainer.build_model(20, 30, max_target_length=4, embedding_dim=8,
                                          units=6, layers=2)
  logits = seq2seq.training({'source_tokens': np.array([[3, 4, 0, 0, 0]]),
                             'decoder_input': np.array([[1, 5, 6, 0, 0]])}).numpy()
  assert logits.shape == (1, 5, 30)
  states = seq2seq.encoder(np.array([[3, 4, 0, 0, 0]]))
  assert len(states) == 4 and states[0].shape == (1, 6)
  # One decoder step from the encoder states gives the training model's first position.
  step = seq2seq.decoder_step([np.array([[1]]), *states])
  np.testing.assert_allclose(step[0].numpy()[0, 0], logits[0, 0], rtol=1e-4, atol=1e-5)


def test_source_padding_is_masked():
  seq2seq = translate_trainer.build_model(20, 30, max_target_length=3, embedding_dim=8, units=6)
  short_states = seq2seq.encoder(np.array([[3, 4, 0, 0]]))
  long_states = seq2seq.encoder(np.array([[3, 4, 0, 0, 0, 0, 0]]))
  for a, b in zip(short_states, long_states):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


def test_source_is_reversed_within_its_length():
  ids = tf.constant([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0], [3, 4, 5, 6, 7]], tf.int64)
  np.testing.assert_array_equal(translate_trainer.ReverseTokens()(ids), [[7, 6, 5, 0, 0], [8, 0, 0, 0, 0],
                                                                         [7, 6, 5, 4, 3]])


def test_batches_are_trimmed_to_their_longest_sentence():
  features = {'source_tokens': tf.constant([[5, 6, 0, 0], [7, 0, 0, 0]], tf.int64),
              'decoder_input': tf.constant([[1, 8, 0, 0, 0], [1, 9, 9, 0, 0]], tf.int64)}
  trimmed, target = translate_trainer.trim_padding(features, tf.constant([[8, 2, 0, 0, 0], [9, 9, 2, 0, 0]], tf.int64))
  np.testing.assert_array_equal(trimmed['source_tokens'], [[5, 6], [7, 0]])
  np.testing.assert_array_equal(trimmed['decoder_input'], [[1, 8, 0], [1, 9, 9]])
  np.testing.assert_array_equal(target, [[8, 2, 0], [9, 9, 2]])


def test_loss_and_accuracy_ignore_padding():
  logits = tf.math.log(tf.constant([[[0.1, 0.2, 0.7], [0.6, 0.2, 0.2]]]))  # [1 sentence, 2 steps, 3 ids]
  loss = translate_trainer.masked_loss(tf.constant([[2, 0]]), logits).numpy()
  np.testing.assert_allclose(loss, [-np.log(0.7)], rtol=1e-5)  # the [PAD] step costs nothing
  accuracy = translate_trainer.masked_accuracy(tf.constant([[2, 0]]), logits).numpy()
  np.testing.assert_allclose(accuracy, [1.0])  # argmax of the [PAD] step (0) is not counted either


WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
CONFIG = {'source_column': 'source', 'target_column': 'target', 'source_vocab_size': 10, 'target_vocab_size': 10,
          'num_oov_buckets': 1, 'max_source_length': 4, 'max_target_length': 4}


def _toy_pairs():
  """Every sentence of 1-3 words over WORDS; the 'translation' is the words reversed, upper-cased."""
  for length in (1, 2, 3):
    for words in itertools.product(WORDS, repeat=length):
      yield ' '.join(words), ' '.join(reversed(words)).upper()


def test_greedy_decoding_through_the_exported_signature(tmp_path):
  pairs = list(_toy_pairs())
  metadata = dataset_metadata.DatasetMetadata.from_feature_spec({
      'source': tf.io.FixedLenFeature([1], tf.string), 'target': tf.io.FixedLenFeature([1], tf.string)})
  transform_dir = str(tmp_path / 'transform')
  with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(tmp_path / 'tft_tmp')):
    raw = pipeline | beam.Create([{'source': [s], 'target': [t]} for s, t in pairs])
    transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(
        lambda inputs: translate_transform.preprocessing_fn(inputs, CONFIG))
    _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
  # What TFX's Transform also writes: the raw schema, which serving_default parses examples with.
  metadata_io.write_metadata(metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
  tft_output = tft.TFTransformOutput(transform_dir)
  sources, targets = zip(*pairs)
  features = {key: value.numpy() for key, value in tft_output.transform_raw_features(
      {'source': tf.constant(sources)[:, None], 'target': tf.constant(targets)[:, None]}).items()}
  source_vocab, target_vocab = translate_trainer.vocabulary_sizes(tft_output, CONFIG['num_oov_buckets'])
  assert (source_vocab, target_vocab) == (3 + 5 + 1, 3 + 5 + 1)  # reserved + words + OOV

  keras = common.keras
  keras.utils.set_random_seed(0)
  seq2seq = translate_trainer.build_model(source_vocab, target_vocab, 4, embedding_dim=16, units=64)
  translate_trainer.compile_model(seq2seq, learning_rate=1e-2, steps_per_execution=8)
  history = seq2seq.training.fit(
      {k: features[k] for k in ('source_tokens', 'decoder_input')}, features['target_tokens'],
      batch_size=32, epochs=60, verbose=0)
  assert history.history['masked_accuracy'][-1] > 0.99, history.history['masked_accuracy'][-1]

  model_dir = str(tmp_path / 'model')
  common.export_model(seq2seq.training, model_dir,
                      translate_trainer.serving_signatures(seq2seq, tft_output, 'source', 'target'),
                      {'task': 'translate'})
  loaded = tf.saved_model.load(model_dir)
  sentences = ['alpha', 'Bravo charlie', 'delta echo alpha', 'echo echo']  # tokenised like training data
  translated = loaded.signatures['translate_sentences'](source=tf.constant(sentences))['translation'].numpy()
  # The model's vocabulary is lower-cased (the Transform normalises case), [END] stops each sentence.
  assert [t.decode() for t in translated] == ['alpha', 'charlie bravo', 'alpha echo delta', 'echo echo']
  examples = [tf.train.Example(features=tf.train.Features(feature={'source': tf.train.Feature(
      bytes_list=tf.train.BytesList(value=[s.encode()]))})).SerializeToString() for s in sentences]
  from_examples = loaded.signatures['serving_default'](examples=tf.constant(examples))['translation'].numpy()
  assert list(from_examples) == list(translated)
  # An unknown source word still decodes to something, and decoding stops by max length at the latest.
  unknown = loaded.signatures['translate_sentences'](source=tf.constant(['zulu zulu zulu zulu zulu']))
  assert len(unknown['translation'].numpy()[0].split()) <= CONFIG['max_target_length'] + 1
  assert tf.io.gfile.glob(os.path.join(model_dir, 'assets', '*target_vocab*'))
