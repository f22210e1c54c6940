"""Tier 1: pretrained word vectors (trainer/pretrained_embeddings.py): the pre-flight check and its errors, the
fingerprint, loading and matching, the embedding rows of a real tf.Transform vocabulary under a 2-replica
MirroredStrategy, and freezing the embedding for the first epochs."""
import gzip
import json
import os
import subprocess
import sys

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata

from core.data_contract import DataContractError
from preprocessing import sentiment_transform
from trainer import common
from trainer import pretrained_embeddings as pe
from trainer.common import keras

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(path, content) -> str:
  mode = 'wb' if isinstance(content, bytes) else 'w'
  with open(path, mode, **({} if mode == 'wb' else {'encoding': 'utf-8'})) as f:
    f.write(content)
  return str(path)


def _glove(vectors) -> str:
  return ''.join(f'{word} {" ".join(map(str, values))}\n' for word, values in vectors)


def _word2vec(vectors) -> str:
  # Like word2vec's C tool: a trailing space after every vector.
  return f'{len(vectors)} {len(vectors[0][1])}\n' + ''.join(
      f'{word} {" ".join(map(str, values))} \n' for word, values in vectors)


# ----------------------------------------------------------------------------------------------------
# Pre-flight check.

@pytest.mark.parametrize('writer, expected_format', [(_glove, 'glove'), (_word2vec, 'word2vec')])
def test_check_detects_the_format_and_dimension(tmp_path, writer, expected_format):
  path = _write(tmp_path / 'vectors.txt', writer([('the', [0.1, -0.2, 3e-2]), ('cat', [1, 2, 3])]))
  assert pe.check_vectors_file(path) == pe.VectorsInfo(dimension=3, format=expected_format, path=path)


def test_check_accepts_crlf_bom_blank_lines_and_words_with_spaces(tmp_path):
  # glove.840B has a few "words" with spaces (`. . .`): accepted, and never matched (tokens have no spaces).
  content = '\ufeffthe 0.1 0.2\r\n\r\n. . . 0.5 0.6\r\n1999 0.3 0.4\r\n'
  path = _write(tmp_path / 'vectors.txt', content)
  assert pe.check_vectors_file(path).dimension == 2
  matrix, found = pe.load_vectors(path, ['the', '.', '1999'], 2)
  assert found.tolist() == [True, False, True]
  np.testing.assert_allclose(matrix[[0, 2]], [[0.1, 0.2], [0.3, 0.4]])


def _binary_word2vec() -> bytes:
  return b'2 3\n' + b''.join(word + b' ' + np.array([1, 0, 2], np.float32).tobytes()
                             for word in (b'cat', b'dog'))


@pytest.mark.parametrize('content, message', [
    (_glove([('a', [1, 2, 3]), ('b', [1, 2, 3]), ('c', [1, 2])]),
     'line 3: expected a word and 3 numbers, found 3 fields'),
    (_glove([('a', [1, 2, 3]), ('b', [1, 2, 3, 4])]), 'line 2: expected a word and 3 numbers, found 5 fields'),
    ('a 1 2 3\nb 1 abc 3\n', "line 2: not a number: 'abc'"),
    ('a 1 2 nan\n', "line 1: not a finite number: 'nan'"),
    ('the 0.1 abc 0.3\n', "line 1: not a number: 'abc'"),
    ('just words here\n', "line 1: expected a word and its vector's numbers"),
    ('2 3\ncat 1 2 3\ndog 1 2 3 4 5\n',
     'line 3: expected a word and 3 numbers (the word2vec header on line 1 says 3), found 6 fields'),
    ('2 4\ncat 1 2 3\n', 'line 2: expected a word and 4 numbers (the word2vec header on line 1 says 4), found 4'),
    ('3 2\ncat 1 2\ndog 3 4\n', 'the word2vec header (line 1) says 3 vectors, the file has 2'),
    ('2 3\n', 'has a word2vec header (line 1) but no vectors'),
    ('', 'is empty'),
    ('\n  \n\n', 'is empty'),
    (b'cat 1 2\x00\x00\x80?\n', 'line 1: looks like a binary file, not text (a NUL byte at byte 8'),
    (_binary_word2vec(), 'line 2: looks like a binary file, not text (a NUL byte at byte 5 of the line) (a binary '
                         'word2vec file?'),
    (b'the 1 2\ncaf\xe9 1 2\n', 'line 2: not valid UTF-8 (byte 0xe9 at byte 4 of the line)'),
    (gzip.compress(b'the 1 2\n'), 'line 1: the file is gzip-compressed'),
    (b'PK\x03\x04\x14\x00rest', 'line 1: the file is a zip archive'),
    ('the 1 2\n'.encode('utf-16'), 'line 1: the file is UTF-16 text'),
], ids=['too-few-fields', 'too-many-numbers', 'not-a-number', 'nan', 'number-then-text', 'no-numbers',
        'word2vec-line-mismatch', 'word2vec-header-dimension', 'word2vec-header-count', 'header-only', 'empty',
        'blank', 'binary', 'binary-word2vec', 'not-utf8', 'gzip', 'zip', 'utf16'])
def test_check_errors_name_the_file_and_line(tmp_path, content, message):
  path = _write(tmp_path / 'vectors.txt', content)
  with pytest.raises(DataContractError) as error:
    pe.check_vectors_file(path)
  assert str(error.value).startswith(path), str(error.value)
  assert message in str(error.value), str(error.value)


def test_check_errors_for_missing_files_and_directories(tmp_path):
  with pytest.raises(DataContractError, match='does not exist'):
    pe.check_vectors_file(str(tmp_path / 'missing.txt'))
  with pytest.raises(DataContractError, match='is a directory'):
    pe.check_vectors_file(str(tmp_path))


def test_check_reads_only_max_lines_and_loading_checks_every_line(tmp_path):
  lines = [('w%d' % i, [i, i + 1]) for i in range(10)]
  content = _glove(lines[:7]) + 'w7 1\n' + _glove(lines[8:])
  path = _write(tmp_path / 'vectors.txt', content)
  assert pe.check_vectors_file(path, max_lines=5).dimension == 2
  with pytest.raises(DataContractError, match=r'vectors.txt line 8: expected a word and 2 numbers, found 2 fields'):
    pe.load_vectors(path, ['w0'], 2)
  # A word2vec header's count is checked once the whole file is read.
  truncated = _write(tmp_path / 'truncated.txt', '5 2\n' + _glove(lines[:3]))
  assert pe.check_vectors_file(truncated, max_lines=2).format == 'word2vec'
  with pytest.raises(DataContractError, match=r'says 5 vectors, the file has 3'):
    pe.load_vectors(truncated, ['w0'], 2)


def test_fingerprint_follows_the_content(tmp_path):
  a = _write(tmp_path / 'a.txt', _glove([('cat', [1.5, 2.5])]))
  b = _write(tmp_path / 'b.txt', _glove([('cat', [1.5, 2.5])]))
  c = _write(tmp_path / 'c.txt', _glove([('cat', [1.5, 2.6])]))  # same size, one digit differs
  assert pe.vectors_fingerprint(a) == pe.vectors_fingerprint(b)
  assert pe.vectors_fingerprint(a) != pe.vectors_fingerprint(c)
  assert pe.vectors_fingerprint(a).startswith('sha256:')


def test_trainer_config_checks_the_dimension(tmp_path):
  path = _write(tmp_path / 'vectors.txt', _glove([('cat', [1, 2, 3])]))
  config = pe.trainer_config(os.path.relpath(path), freeze_epochs=2, embedding_dim=3)
  assert config == {'path': path, 'format': 'glove', 'dimension': 3, 'fingerprint': pe.vectors_fingerprint(path),
                    'freeze_epochs': 2}
  assert json.loads(json.dumps(config)) == config  # goes into the Trainer's custom_config
  with pytest.raises(DataContractError, match='has 3-dimensional vectors but the embedding dimension is 64'):
    pe.trainer_config(path, embedding_dim=64)


def test_the_pre_flight_does_not_import_tensorflow(tmp_path):
  path = _write(tmp_path / 'vectors.txt', _glove([('cat', [1, 2, 3])]))
  code = ('import sys\n'
          'from trainer import pretrained_embeddings as pe\n'
          f'pe.trainer_config({path!r}, embedding_dim=3)\n'
          f'pe.load_vectors({path!r}, ["cat"], 3)\n'
          'loaded = [m for m in ("tensorflow", "tf_keras", "keras") if m in sys.modules]\n'
          'assert not loaded, loaded\n')
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=60)
  assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------------------------------
# Loading and matching.

def test_matching_exact_first_then_lower_case_first_occurrence(tmp_path):
  content = _glove([
      ('Apple', [1, 1]),  # lower-case match for apple, but the exact `apple` below wins
      ('Paris', [2, 2]),  # only a cased form: used for paris
      ('PARIS', [3, 3]),  # a later lower-case match: the first one wins
      ('apple', [4, 4]),
      ('apple', [5, 5]),  # a later exact duplicate: the first one wins
      ('Über', [6, 6]),  # non-ASCII lower-casing
      ('zebra', [7, 7]),  # not in the vocabulary
  ])
  path = _write(tmp_path / 'vectors.txt', content)
  words = ['[PAD]', 'apple', 'paris', 'über', 'missing', None, '']
  matrix, found = pe.load_vectors(path, words, 2)
  assert matrix.shape == (7, 2) and matrix.dtype == np.float32
  assert found.tolist() == [False, True, True, True, False, False, False]
  np.testing.assert_array_equal(matrix[1:4], [[4, 4], [2, 2], [6, 6]])
  np.testing.assert_array_equal(matrix[~found], 0)


def test_loading_checks_the_dimension_asked_for(tmp_path):
  path = _write(tmp_path / 'vectors.txt', _word2vec([('cat', [1, 2, 3])]))
  with pytest.raises(DataContractError, match='line 1: the word2vec header says 3 dimensions, expected 4'):
    pe.load_vectors(path, ['cat'], 4)
  glove = _write(tmp_path / 'glove.txt', _glove([('cat', [1, 2, 3])]))
  with pytest.raises(DataContractError, match='line 1: expected a word and 4 numbers, found 4 fields'):
    pe.load_vectors(glove, ['dog'], 4)


# ----------------------------------------------------------------------------------------------------
# A real vocabulary: the sentiment preprocessing_fn through tf.Transform.

TRANSFORM_CONFIG = {'text_column': 'text', 'label_column': 'label', 'vocab_size': 100, 'num_oov_buckets': 1,
                    'max_length': 6}
SENTENCES = ['Good film!', 'good, good film', 'a BAD film, boring.', 'good acting but bad plot', 'Paris is good']


@pytest.fixture(scope='module')
def sentiment_output(tmp_path_factory) -> tft.TFTransformOutput:
  directory = tmp_path_factory.mktemp('transform')
  metadata = dataset_metadata.DatasetMetadata.from_feature_spec({
      'text': tf.io.FixedLenFeature([1], tf.string), 'label': tf.io.FixedLenFeature([1], tf.int64)})
  transform_dir = str(directory / 'transform')
  with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(directory / 'tft_tmp')):
    raw = pipeline | beam.Create([{'text': [s], 'label': [i % 2]} for i, s in enumerate(SENTENCES)])
    transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(
        lambda inputs: sentiment_transform.preprocessing_fn(inputs, TRANSFORM_CONFIG))
    _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
  return tft.TFTransformOutput(transform_dir)


def _embedding_model(vocab_size: int, dimension: int) -> keras.Model:
  tokens = keras.Input(shape=(None,), dtype=tf.int64, name='tokens')
  x = keras.layers.Embedding(vocab_size, dimension, mask_zero=True, name='embedding')(tokens)
  x = keras.layers.GlobalAveragePooling1D(name='pool')(x)
  return keras.Model(tokens, keras.layers.Dense(1, activation='sigmoid', name='probability')(x))


@pytest.mark.parametrize('writer', [_glove, _word2vec], ids=['glove', 'word2vec'])
def test_vocabulary_rows_found_in_the_file_take_its_vectors(tmp_path, sentiment_output, writer):
  words = pe.vocabulary_words(sentiment_output, sentiment_transform.VOCABULARY_NAME)
  assert words[0] == '[PAD]' and {'good', 'film', 'bad', 'paris', '!'} <= set(words)
  file_vectors = {'good': [0.5, -1.0, 2.0, 0.25], 'Film': [1.5, 1.5, -2.5, 3.0], 'BAD': [9.0, 9.0, 9.0, 9.0],
                  'bad': [-3.0, 0.125, 4.0, -0.5], 'zebra': [7.0, 7.0, 7.0, 7.0], '[PAD]': [8.0, 8.0, 8.0, 8.0]}
  path = _write(tmp_path / 'vectors.txt', writer(list(file_vectors.items())))
  expected = {'good': file_vectors['good'], 'film': file_vectors['Film'], 'bad': file_vectors['bad']}

  strategy = common.make_strategy(2)  # conftest split the CPU into two logical devices
  assert strategy.num_replicas_in_sync == 2
  num_oov = TRANSFORM_CONFIG['num_oov_buckets']
  with strategy.scope():
    model = _embedding_model(len(words) + num_oov, 4)
  layer = model.get_layer('embedding')
  assert isinstance(layer.embeddings, tf.distribute.DistributedValues)
  before = layer.get_weights()[0].copy()

  config = {pe.CONFIG_KEY: pe.trainer_config(path, freeze_epochs=0, embedding_dim=4)}
  run_dir = tmp_path / 'model_run'
  run_dir.mkdir()
  callbacks = pe.from_config(config, model, 'embedding', sentiment_output, sentiment_transform.VOCABULARY_NAME,
                             str(run_dir))
  assert callbacks == []

  # Every replica's copy holds the file's vectors in the rows of the words found, and the others are unchanged.
  for replica_table in strategy.experimental_local_results(layer.embeddings):
    table = replica_table.numpy()
    assert table.shape == (len(words) + num_oov, 4)
    for i, word in enumerate(words):
      if word in expected:
        np.testing.assert_array_equal(table[i], expected[word])
      else:
        np.testing.assert_array_equal(table[i], before[i])
        assert not any(np.allclose(table[i], v) for v in file_vectors.values()), word
    np.testing.assert_array_equal(table[len(words):], before[len(words):])  # the OOV bucket

  with open(run_dir / pe.REPORT_FILE, encoding='utf-8') as f:
    report = json.load(f)
  assert report['found'] == 3 and report['vocabulary'] == len(words) - 1  # [PAD] cannot be found
  assert report['coverage'] == round(3 / (len(words) - 1), 4)
  assert report['file'] == path and report['layer'] == 'embedding' and report['freeze_epochs'] == 0


def test_initialise_rejects_another_dimension(tmp_path):
  path = _write(tmp_path / 'vectors.txt', _glove([('cat', [1, 2, 3])]))
  model = _embedding_model(5, 4)
  with pytest.raises(ValueError, match='the embedding dimension must be 3'):
    pe.initialise_embedding_rows(model.get_layer('embedding'), ['[PAD]', 'cat'], path, 3)


def test_trials_with_the_same_file_and_words_read_it_once(tmp_path, monkeypatch):
  path = _write(tmp_path / 'vectors.txt', _glove([('cat', [1, 2, 3]), ('dog', [4, 5, 6])]))
  fingerprint = pe.vectors_fingerprint(path)
  reads = []
  real_load = pe.load_vectors
  monkeypatch.setattr(pe, 'load_vectors', lambda *args: reads.append(args[1]) or real_load(*args))
  for words in (['[PAD]', 'cat'], ['[PAD]', 'cat'], ['[PAD]', 'dog']):
    layer = _embedding_model(5, 3).get_layer('embedding')
    pe.initialise_embedding_rows(layer, words, path, 3, fingerprint)
    np.testing.assert_array_equal(layer.get_weights()[0][1], [1, 2, 3] if words[1] == 'cat' else [4, 5, 6])
  assert reads == [[None, 'cat'], [None, 'dog']]  # the second trial reused the first one's vectors
  pe.initialise_embedding_rows(_embedding_model(5, 3).get_layer('embedding'), ['[PAD]', 'dog'], path, 3)
  assert len(reads) == 3  # without a fingerprint the file is always read


def test_a_changed_file_is_refused_by_the_trainer(tmp_path):
  path = _write(tmp_path / 'vectors.txt', _glove([('cat', [1, 2, 3])]))
  config = {pe.CONFIG_KEY: pe.trainer_config(path)}
  _write(path, _glove([('cat', [1, 2, 4])]))
  with pytest.raises(DataContractError, match='changed since the pipeline was configured'):
    pe.from_config(config, _embedding_model(5, 3), 'embedding', None, 'sentence_vocab', None)
  assert pe.from_config({pe.CONFIG_KEY: None}, None, 'embedding', None, 'sentence_vocab', None) == []
  with pytest.raises(ValueError, match="custom_config has no 'pretrained_embeddings'"):
    pe.from_config({}, None, 'embedding', None, 'sentence_vocab', None)


# ----------------------------------------------------------------------------------------------------
# Freezing.

class _Recorder(keras.callbacks.Callback):
  def __init__(self):
    super().__init__()
    self.embeddings, self.dense = [], []

  def _record(self):
    self.embeddings.append(self.model.get_layer('embedding').get_weights()[0].copy())
    self.dense.append(self.model.get_layer('probability').get_weights()[0].copy())

  def on_train_begin(self, logs=None):
    self._record()

  def on_epoch_end(self, epoch, logs=None):
    self._record()


def test_the_embedding_is_frozen_for_the_first_epochs_only():
  keras.utils.set_random_seed(0)
  strategy = common.make_strategy(2)
  with strategy.scope():
    model = _embedding_model(12, 4)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss='binary_crossentropy', steps_per_execution=2)
  rng = np.random.default_rng(0)
  tokens = rng.integers(1, 12, size=(64, 5))
  labels = (tokens[:, 0] > 6).astype('float32')[:, None]
  recorder = _Recorder()
  freeze = pe.freeze_callback(['embedding'], freeze_epochs=2)
  stopping = keras.callbacks.EarlyStopping(monitor='loss', patience=5, restore_best_weights=True)
  history = model.fit(tokens, labels, batch_size=16, epochs=4, verbose=0, callbacks=[freeze, recorder, stopping])

  assert len(history.history['loss']) == 4
  embeddings, dense = recorder.embeddings, recorder.dense  # at the start, then after each epoch
  for epoch in (1, 2):  # frozen: the embedding does not move, the rest of the model trains
    np.testing.assert_array_equal(embeddings[epoch], embeddings[0])
    assert not np.allclose(dense[epoch], dense[epoch - 1])
  for epoch in (3, 4):  # trainable again
    assert not np.allclose(embeddings[epoch], embeddings[epoch - 1])
  # One optimizer throughout: its step count covers all 4 epochs of 4 steps.
  assert int(model.optimizer.iterations.numpy()) == 16
  assert model.get_layer('embedding').trainable
  # A later fit trains the embedding (the frozen train function is not reused).
  before = model.get_layer('embedding').get_weights()[0].copy()
  model.fit(tokens, labels, batch_size=16, epochs=1, verbose=0)
  assert not np.allclose(model.get_layer('embedding').get_weights()[0], before)


def test_the_summary_line_says_when_a_warm_start_replaced_rows():
  from records import training_history  # pylint: disable=g-import-not-at-top
  report = {'found': 1200, 'vocabulary': 1500, 'vocabulary_name': 'words', 'coverage': 0.8, 'file': '/v.txt',
            'freeze_epochs': 0}
  skipped = {'restored': False, 'reason': 'another architecture'}
  for warm in (None, skipped):
    assert training_history.pretrained_embeddings_in_words(report, warm) == \
        '1,200 of 1,500 words tokens (80%) found in /v.txt'
  assert training_history.pretrained_embeddings_in_words(report, {'restored': True}).endswith(
      '; the warm start then replaced the rows of the tokens the served model knew')
