"""Tier 1/2: the encoder-decoder builder (plain, Luong and Bahdanau attention), its masked loss, and in-graph
greedy and beam-search decoding through the exported signatures on a toy language (reverse the words), with a
real tf.Transform graph and vocabulary asset. The toy Transform runs once per module and each trained model is
shared by the tests that need it, to keep the file's time down."""
import itertools
import os

import apache_beam as beam
import numpy as np
import pytest
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


@pytest.mark.parametrize('attention,reverse_source', [('luong', True), ('bahdanau', True), ('luong', False)])
def test_attention_shapes_and_shared_layers(attention, reverse_source):
  seq2seq = translate_trainer.build_model(20, 30, max_target_length=4, embedding_dim=8, units=6, layers=2,
                                          reverse_source=reverse_source, attention=attention)
  source, decoder_input = np.array([[3, 4, 5, 0, 0], [6, 0, 0, 0, 0]]), np.array([[1, 5, 6, 7, 0], [1, 9, 0, 0, 0]])
  logits = seq2seq.training({'source_tokens': source, 'decoder_input': decoder_input}).numpy()
  assert logits.shape == (2, 5, 30)
  outputs, mask, *states = seq2seq.encoder(source)
  assert outputs.shape == (2, 5, 6) and len(states) == 4 and states[0].shape == (2, 6)
  np.testing.assert_array_equal(mask, source != 0)
  # Fed the same tokens one step at a time, the decoder step reproduces every position of the training model.
  for t in range(decoder_input.shape[1]):
    step_logits, *states = seq2seq.decoder_step([decoder_input[:, t:t + 1], outputs, mask, *states])
    np.testing.assert_allclose(step_logits.numpy()[:, 0], logits[:, t], rtol=1e-4, atol=1e-5)
  names = {layer.name for layer in seq2seq.training.layers}
  assert {'attention', 'attention_output', 'logits', 'source_embedding', 'target_embedding'} <= names
  assert seq2seq.training.get_layer('logits').weights[0].shape == (6, 30)  # the warm start's 'logits/0' axis 1


@pytest.mark.parametrize('attention', ['luong', 'bahdanau'])
def test_attention_ignores_source_padding(attention):
  seq2seq = translate_trainer.build_model(20, 30, max_target_length=3, embedding_dim=8, units=6, attention=attention)
  short, long = seq2seq.encoder(np.array([[3, 4, 0, 0]])), seq2seq.encoder(np.array([[3, 4, 0, 0, 0, 0, 0]]))
  previous = np.array([[1]])
  short_step = seq2seq.decoder_step([previous, *short])
  for a, b in zip(short_step, seq2seq.decoder_step([previous, *long])):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
  # Whatever the encoder outputs hold at [PAD] positions, they get zero weight and change nothing.
  outputs, mask, *states = short
  noisy = np.where(mask.numpy()[:, :, None], outputs.numpy(), np.random.default_rng(0).normal(size=outputs.shape))
  for a, b in zip(short_step, seq2seq.decoder_step([previous, noisy.astype(np.float32), mask, *states])):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
  _, weights = seq2seq.training.get_layer('attention')([tf.ones([1, 2, 6]), noisy.astype(np.float32), mask])
  np.testing.assert_array_equal(weights.numpy()[0, :, 2:], 0.0)
  np.testing.assert_allclose(weights.numpy().sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize('attention', ['none', 'luong', 'bahdanau'])
def test_a_beam_of_one_is_greedy_decoding(attention):
  seq2seq = translate_trainer.build_model(20, 30, max_target_length=6, embedding_dim=8, units=6, layers=2,
                                          attention=attention)
  lengths = np.arange(16)[:, None] % 5 + 1  # 1-5 tokens, then padding
  source = tf.constant(np.random.default_rng(1).integers(3, 20, size=(16, 5)) * (np.arange(5) < lengths))
  greedy = tf.function(lambda s: translate_trainer.greedy_decode(seq2seq, s))(source).numpy()
  beam = tf.function(lambda s: translate_trainer.beam_decode(seq2seq, s, 1))(source).numpy()
  np.testing.assert_array_equal(beam, greedy)


def _scripted_seq2seq(next_token_probabilities, max_target_length):
  """A Seq2Seq whose next-token distribution depends only on the previous token (rows of the table)."""
  keras = common.keras
  vocabulary = next_token_probabilities.shape[1]
  source = keras.Input(shape=(None,), dtype=tf.int64)
  zeros = keras.layers.Lambda(lambda ids: tf.zeros([tf.shape(ids)[0], 1]))(source)
  encoder = keras.Model(source, [zeros, zeros])
  previous = keras.Input(shape=(1,), dtype=tf.int64)
  h, c = keras.Input(shape=(1,)), keras.Input(shape=(1,))
  table = keras.layers.Embedding(vocabulary, vocabulary, embeddings_initializer=keras.initializers.Constant(
      np.log(next_token_probabilities)))
  step = keras.Model([previous, h, c], [table(previous), keras.layers.Identity()(h), keras.layers.Identity()(c)])
  return translate_trainer.Seq2Seq(None, encoder, step, max_target_length)


def test_beam_search_finds_the_likelier_translation_greedy_decoding_misses():
  pad, start, end, a, b = range(5)
  probabilities = np.full((5, 5), 1e-6)
  probabilities[start, [a, b, end]] = [0.5, 0.4, 0.1]  # greedy takes a ...
  probabilities[a, [a, b, end]] = [0.4, 0.3, 0.3]  # ... and never gets likely again: a a a a a (0.5 * 0.4 ** 4)
  probabilities[b, [a, end]] = [0.1, 0.9]  # b [END] is likelier (0.36) than anything starting with a
  probabilities[end, pad] = probabilities[pad, pad] = 1.0
  seq2seq = _scripted_seq2seq(probabilities / probabilities.sum(axis=1, keepdims=True), max_target_length=4)
  source = tf.constant([[5, 6], [7, 0]], tf.int64)
  greedy = tf.function(lambda s: translate_trainer.greedy_decode(seq2seq, s))(source).numpy()
  np.testing.assert_array_equal(greedy, [[a] * 5] * 2)  # max_target_length + 1 steps, no [END]
  beam = tf.function(lambda s: translate_trainer.beam_decode(seq2seq, s, 2))(source).numpy()
  # [PAD] after [END]; the other hypothesis (a a a ...) never finishes, so all max_target_length + 1 steps ran.
  np.testing.assert_array_equal(beam, [[b, end, pad, pad, pad]] * 2)
  # Decoding stops once every hypothesis has finished.
  probabilities[a, [a, b, end]], probabilities[b, [a, end]] = [1e-6, 1e-6, 1.0], [1e-6, 1.0]  # a, b: then [END]
  seq2seq = _scripted_seq2seq(probabilities / probabilities.sum(axis=1, keepdims=True), max_target_length=4)
  beam = tf.function(lambda s: translate_trainer.beam_decode(seq2seq, s, 3))(source).numpy()
  np.testing.assert_array_equal(beam, [[a, end]] * 2)
  # Traced for a static batch of one too (the loop's shapes must not depend on knowing the batch size).
  single = tf.function(lambda s: translate_trainer.beam_decode(seq2seq, s, 3))(source[:1]).numpy()
  np.testing.assert_array_equal(single, [[a, end]])


def test_decoding_never_generates_an_oov_id():
  pad, start, end, word, oov = range(5)  # a vocabulary file of 4 ids, then one OOV bucket
  probabilities = np.full((5, 5), 1e-6)
  probabilities[start, [oov, word, end]] = [0.6, 0.3, 0.1]  # the OOV id is the likeliest first token
  probabilities[oov, end] = probabilities[word, end] = 1.0
  probabilities[end, pad] = probabilities[pad, pad] = 1.0
  seq2seq = _scripted_seq2seq(probabilities / probabilities.sum(axis=1, keepdims=True), max_target_length=3)
  source = tf.constant([[5, 6]], tf.int64)
  unmasked = tf.function(lambda s: translate_trainer.greedy_decode(seq2seq, s))(source).numpy()
  np.testing.assert_array_equal(unmasked, [[oov, end]])
  for decode in (lambda s: translate_trainer.greedy_decode(seq2seq, s, words=4),
                 lambda s: translate_trainer.beam_decode(seq2seq, s, 2, words=4)):
    np.testing.assert_array_equal(tf.function(decode)(source).numpy(), [[word, end]])


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
          'min_word_count': 1, 'num_oov_buckets': 1, 'max_source_length': 4, 'max_target_length': 4}


def _toy_pairs():
  """Every sentence of 1-3 words over WORDS; the 'translation' is the words reversed, upper-cased."""
  for length in (1, 2, 3):
    for words in itertools.product(WORDS, repeat=length):
      yield ' '.join(words), ' '.join(reversed(words)).upper()


class Toy:
  """The toy language through a real tf.Transform graph: its output, transformed features and vocabulary sizes."""

  def __init__(self, directory):
    pairs = list(_toy_pairs())
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec({
        'source': tf.io.FixedLenFeature([1], tf.string), 'target': tf.io.FixedLenFeature([1], tf.string)})
    transform_dir = str(directory / 'transform')
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(directory / 'tft_tmp')):
      raw = pipeline | beam.Create([{'source': [s], 'target': [t]} for s, t in pairs])
      transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(
          lambda inputs: translate_transform.preprocessing_fn(inputs, CONFIG))
      _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    # What TFX's Transform also writes: the raw schema, which serving_default parses examples with.
    metadata_io.write_metadata(metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
    self.tft_output = tft.TFTransformOutput(transform_dir)
    sources, targets = zip(*pairs)
    self.features = {key: value.numpy() for key, value in self.tft_output.transform_raw_features(
        {'source': tf.constant(sources)[:, None], 'target': tf.constant(targets)[:, None]}).items()}
    self.source_vocab, self.target_vocab = translate_trainer.vocabulary_sizes(self.tft_output,
                                                                              CONFIG['num_oov_buckets'])
    self.directory = directory

  def train(self, attention: str) -> translate_trainer.Seq2Seq:
    common.keras.utils.set_random_seed(0)
    seq2seq = translate_trainer.build_model(self.source_vocab, self.target_vocab, CONFIG['max_target_length'],
                                            embedding_dim=16, units=64, attention=attention)
    translate_trainer.compile_model(seq2seq, learning_rate=1e-2, steps_per_execution=8)
    history = seq2seq.training.fit(
        {k: self.features[k] for k in ('source_tokens', 'decoder_input')}, self.features['target_tokens'],
        batch_size=32, epochs=60, verbose=0)
    assert history.history['masked_accuracy'][-1] > 0.99, (attention, history.history['masked_accuracy'][-1])
    return seq2seq

  def export_and_load(self, seq2seq: translate_trainer.Seq2Seq, name: str, beam_size: int = 1):
    model_dir = str(self.directory / name)
    common.export_model(seq2seq.training, model_dir,
                        translate_trainer.serving_signatures(seq2seq, self.tft_output, 'source', 'target',
                                                             beam_size=beam_size),
                        {'task': 'translate'})
    return model_dir, tf.saved_model.load(model_dir)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
  return Toy(tmp_path_factory.mktemp('toy'))


@pytest.fixture(scope='module')
def trained(toy):
  """attention kind -> a model trained on the toy language, trained once per module (tests share them)."""
  models = {}

  def get(attention):
    if attention not in models:
      models[attention] = toy.train(attention)
    return models[attention]
  return get


SENTENCES = ['alpha', 'Bravo charlie', 'delta echo alpha', 'echo echo']  # tokenised like training data
# The model's vocabulary is lower-cased (the Transform normalises case), [END] stops each sentence.
TRANSLATIONS = ['alpha', 'charlie bravo', 'alpha echo delta', 'echo echo']


def _translate(loaded, sentences):
  return [t.decode() for t in loaded.signatures['translate_sentences'](
      source=tf.constant(sentences))['translation'].numpy()]


def _assert_serving_default_agrees(loaded, sentences):
  examples = [tf.train.Example(features=tf.train.Features(feature={'source': tf.train.Feature(
      bytes_list=tf.train.BytesList(value=[s.encode()]))})).SerializeToString() for s in sentences]
  from_examples = loaded.signatures['serving_default'](examples=tf.constant(examples))['translation'].numpy()
  assert [t.decode() for t in from_examples] == _translate(loaded, sentences)


def test_greedy_decoding_through_the_exported_signature(toy, trained):
  assert (toy.source_vocab, toy.target_vocab) == (3 + 5 + 1, 3 + 5 + 1)  # reserved + words + OOV
  model_dir, loaded = toy.export_and_load(trained('none'), 'greedy')
  assert _translate(loaded, SENTENCES) == TRANSLATIONS
  _assert_serving_default_agrees(loaded, SENTENCES)
  # An unknown source word still decodes to something, and decoding stops by max length at the latest.
  unknown = _translate(loaded, ['zulu zulu zulu zulu zulu'])
  assert len(unknown[0].split()) <= CONFIG['max_target_length'] + 1
  assert tf.io.gfile.glob(os.path.join(model_dir, 'assets', '*target_vocab*'))


@pytest.mark.parametrize('attention', ['luong', 'bahdanau'])
def test_attention_decodes_through_the_exported_signature(toy, trained, attention):
  _, loaded = toy.export_and_load(trained(attention), f'greedy_{attention}')
  assert _translate(loaded, SENTENCES) == TRANSLATIONS
  _assert_serving_default_agrees(loaded, SENTENCES)
  # A sentence's translation does not depend on the longer ones padded beside it.
  assert _translate(loaded, ['alpha']) == ['alpha']


@pytest.mark.parametrize('attention', ['none', 'luong'])
def test_beam_search_decodes_through_the_exported_signature(toy, trained, attention):
  seq2seq = trained(attention)
  _, loaded = toy.export_and_load(seq2seq, f'beam_{attention}', beam_size=4)
  assert _translate(loaded, SENTENCES) == TRANSLATIONS
  _assert_serving_default_agrees(loaded, SENTENCES)
  unknown = _translate(loaded, ['zulu zulu zulu zulu zulu'])
  assert len(unknown[0].split()) <= CONFIG['max_target_length'] + 1
  # Every training sentence in one batch: beam search gets all of them right, like greedy decoding.
  source = tf.constant(toy.features['source_tokens'])
  greedy = tf.function(lambda s: translate_trainer.greedy_decode(seq2seq, s))(source).numpy()
  beam_four = tf.function(lambda s: translate_trainer.beam_decode(seq2seq, s, 4))(source).numpy()
  target = toy.features['target_tokens']
  for ids in (greedy, beam_four):
    assert ids.shape[1] <= CONFIG['max_target_length'] + 1
    np.testing.assert_array_equal(ids, target[:, :ids.shape[1]])
