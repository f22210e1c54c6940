"""Pretrained word vectors for the text tasks' embeddings (`--embeddings FILE`): pre-flight check, fingerprint,
loading, row initialisation and freezing for the first epochs.

Files (nothing is downloaded; the user names a local text file):
  - GloVe text: `word v1 ... vD` a line, no header.
  - word2vec text (also fastText's .vec): a first line `N D`, then N lines `word v1 ... vD`.
Fields are separated by whitespace; a trailing space (word2vec's C tool writes one) and CRLF line ends are fine,
blank lines are skipped. A few lines of glove.840B have a "word" with spaces in it (`. . .`): a line with more than
1 + D fields whose extra fields are not numbers is such a word and is read as one (it can never match a token: the
tokenizer splits on whitespace); extra fields that are numbers are an error (a line with too many numbers).
Binary word2vec (.bin), gzip and zip files are rejected with what to do instead.

Matching (preprocessing/text.py lower-cases every sentence before splitting it into tokens, so vocabulary tokens are
lower-case): a vocabulary token takes the vector of the file's word equal to it; when the file has no such word, the
vector of the first word whose lower-case form equals it (`Paris` for `paris` in a cased file). Among equal
candidates the first line wins. Reserved tokens ([PAD], [START], [END]) and the OOV buckets never take a vector: they
keep Keras' initial values, like every token the file lacks.

Fingerprint (what goes into the Trainer's custom_config, so TFX re-runs the Trainer when the file changes): a
streaming SHA-256 of the whole content. Measured on this project's 2-core machine at about 1.6 GB/s of hashing
(0.6 s per GB, plus the disk read), so a full hash is affordable even for glove.840B's 5.6 GB and, unlike
size + mtime + sampled blocks, it neither misses an edit inside the file nor re-runs the Trainer for a file that was
only copied or touched. The Trainer hashes the file again and refuses one that changed since the pipeline was
configured (its cache key would describe another file).

Freezing (`freeze_callback`): one `fit`, with a callback that makes the embedding layer(s) untrainable before epoch
0 and trainable again at epoch K. In tf_keras a `trainable` change inside `fit` takes effect when the train function
is rebuilt (`make_train_function(force=True)`, what `Layer.trainable`'s documentation prescribes; `compile` would
do the same but recreates metrics and, in the trainers, the optimizer); the optimizer is built with every variable
before the first step, so its Adam moments and step count carry over from the frozen to the unfrozen epochs. Since
it is one `fit`, EarlyStopping, TensorBoard and the progress lines see one run of `epochs` epochs: patience counts
across the boundary (epochs without improvement while frozen count), and training that stops during the frozen
epochs never unfreezes the embedding. A trainer that wants early stopping to start only once the embedding trains
passes `start_from_epoch=freeze_epochs` to EarlyStopping (which then also tracks best weights from there on).

No TensorFlow at import time, nor in the pre-flight functions (`check_vectors_file`, `vectors_fingerprint`,
`load_vectors`, `trainer_config`) for local paths: the CLI calls them before anything heavy is imported.
"""
import dataclasses
import hashlib
import json
import math
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from core.data_contract import DataContractError

GLOVE, WORD2VEC = 'glove', 'word2vec'
CONFIG_KEY = 'pretrained_embeddings'  # the Trainer's custom_config entry: trainer_config(...) or None
REPORT_FILE = 'pretrained_embeddings.json'  # under the Trainer's ModelRun artifact, beside warm_start.json
DEFAULT_CHECK_LINES = 1000
MAX_LINE_BYTES = 1 << 20  # 1 MB: ~80,000 numbers; a longer line is not a vectors file
_CHUNK_BYTES = 4 << 20
_HASH_CHUNK_BYTES = 1 << 20
_GZIP_MAGIC, _ZIP_MAGIC = b'\x1f\x8b', b'PK\x03\x04'
_UTF16_MARKS = (b'\xff\xfe', b'\xfe\xff')
_UTF8_MARK = b'\xef\xbb\xbf'


@dataclasses.dataclass(frozen=True)
class VectorsInfo:
  dimension: int
  format: str  # GLOVE or WORD2VEC
  path: str


# ----------------------------------------------------------------------------------------------------
# Reading lines.

def _is_remote(path: str) -> bool:
  return '://' in path


def _open(path: str):
  """A binary reader; local paths with `open` (no TensorFlow), `scheme://` paths with tf.io.gfile."""
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(path):
      raise DataContractError(f'{path} does not exist')
    return tf.io.gfile.GFile(path, 'rb')
  if not os.path.exists(path):
    raise DataContractError(f'{path} does not exist')
  if os.path.isdir(path):
    raise DataContractError(f'{path} is a directory, not a word vectors file')
  try:
    return open(path, 'rb')
  except OSError as e:
    raise DataContractError(f'{path} cannot be read: {e.strerror}') from None


def _lines(reader, name: str) -> Iterator[Tuple[int, bytes]]:
  """(line number, line without its '\\n') of every line, read in chunks; a line over MAX_LINE_BYTES is an error."""
  number, pending = 0, b''
  while True:
    chunk = reader.read(_CHUNK_BYTES)
    if not chunk:
      break
    lines = (pending + chunk).split(b'\n') if pending else chunk.split(b'\n')
    pending = lines.pop()
    if len(pending) > MAX_LINE_BYTES:
      raise DataContractError(f'{name} line {number + len(lines) + 1}: longer than {MAX_LINE_BYTES:,} bytes '
                              '(not a file of one word vector a line?)')
    for line in lines:
      number += 1
      yield number, line
  if pending:
    yield number + 1, pending


def _check_start(first: bytes, name: str) -> None:
  """Rejects archives and UTF-16 text by their first bytes, with what to do instead."""
  if first.startswith(_GZIP_MAGIC):
    raise DataContractError(f'{name} line 1: the file is gzip-compressed: decompress it first (gunzip -k {name})')
  if first.startswith(_ZIP_MAGIC):
    raise DataContractError(f'{name} line 1: the file is a zip archive: unzip it and pass one of its .txt files')
  if first.startswith(_UTF16_MARKS):
    raise DataContractError(f'{name} line 1: the file is UTF-16 text (it starts with a UTF-16 byte-order mark); '
                            'save it as UTF-8')


def _check_text_line(line: bytes, number: int, name: str, word2vec: bool) -> None:
  """NUL bytes (binary data) and invalid UTF-8, with the line and byte."""
  hint = (' (a binary word2vec file? Save it as text, e.g. gensim KeyedVectors.load_word2vec_format(path, '
          'binary=True).save_word2vec_format(out, binary=False))') if word2vec else ''
  nul = line.find(b'\0')
  if nul >= 0:
    raise DataContractError(f'{name} line {number}: looks like a binary file, not text (a NUL byte at byte '
                            f'{nul + 1} of the line){hint}')
  try:
    line.decode('utf-8')
  except UnicodeDecodeError as e:
    raise DataContractError(f'{name} line {number}: not valid UTF-8 (byte 0x{line[e.start]:02x} at byte '
                            f'{e.start + 1} of the line){hint}') from None


# ----------------------------------------------------------------------------------------------------
# Parsing fields.

def _show(field: bytes) -> str:
  return repr(field.decode('utf-8', 'replace'))


def _is_number(field: bytes) -> bool:
  try:
    float(field)
  except ValueError:
    return False
  return True


def _numbers(fields: Sequence[bytes], number: int, name: str) -> List[float]:
  values = []
  for field in fields:
    try:
      value = float(field)
    except ValueError:
      raise DataContractError(f'{name} line {number}: not a number: {_show(field)}') from None
    if not math.isfinite(value):
      raise DataContractError(f'{name} line {number}: not a finite number: {_show(field)}')
    values.append(value)
  return values


def _word2vec_header(fields: Sequence[bytes]) -> Optional[Tuple[int, int]]:
  """(count, dimension) when a first line's fields are word2vec's `N D` header."""
  if len(fields) == 2 and all(field.isdigit() for field in fields):
    return int(fields[0]), int(fields[1])
  return None


def _expected(dimension: int, header: Optional[Tuple[int, int]]) -> str:
  said = f' (the word2vec header on line 1 says {dimension})' if header else ''
  return f'expected a word and {dimension} number{"s" if dimension != 1 else ""}{said}'


def _split_vector(fields: List[bytes], dimension: int, number: int, name: str,
                  header: Optional[Tuple[int, int]]) -> Optional[bytes]:
  """The word of a whitespace-split vector line, None when it is a word with spaces; checks the field count."""
  if len(fields) == dimension + 1:
    return fields[0]
  extras = fields[1:len(fields) - dimension]
  if len(fields) < dimension + 1 or any(_is_number(field) for field in extras):
    raise DataContractError(f'{name} line {number}: {_expected(dimension, header)}, found {len(fields)} fields')
  return None  # glove.840B's `. . .`: a "word" with spaces, which no token can equal


def _first_line_dimension(fields: List[bytes], number: int, name: str) -> int:
  """A GloVe file's dimension from its first vector: the numbers after the word (which may have spaces)."""
  tail = len(fields)
  while tail > 1 and _is_number(fields[tail - 1]):
    tail -= 1
  dimension = len(fields) - tail
  if dimension == 0:
    raise DataContractError(f'{name} line {number}: expected a word and its vector\'s numbers, found '
                            f'{len(fields)} field(s) ending in {_show(fields[-1])}, not a number')
  if any(_is_number(field) for field in fields[1:tail]):  # `the 0.1 abc 0.3`: a broken vector, not a spaced word
    raise DataContractError(f'{name} line {number}: not a number: {_show(fields[tail - 1])}')
  return dimension


# ----------------------------------------------------------------------------------------------------
# Pre-flight check and fingerprint (no TensorFlow).

def check_vectors_file(path: str, max_lines: int = DEFAULT_CHECK_LINES) -> VectorsInfo:
  """Checks a word vectors file's first `max_lines` lines (format, UTF-8 text, field counts, numbers).

  Reads at most `max_lines` lines (and MAX_LINE_BYTES per line), so it is quick on any file; the Trainer checks
  every line's field count when it loads the file.

  Returns:
    VectorsInfo(dimension, format 'glove' or 'word2vec', path).
  Raises:
    DataContractError: `<file> line <N>: ...` for the first problem found, or `<file> does not exist` / `is empty`.
  """
  if max_lines < 1:
    raise ValueError(f'max_lines must be at least 1, not {max_lines}')
  header: Optional[Tuple[int, int]] = None
  dimension, vectors, header_line, whole_file = 0, 0, 0, False
  with _open(path) as reader:
    lines = _lines(reader, path)
    for number, line in lines:
      if number == 1:
        _check_start(line, path)
        line = line[len(_UTF8_MARK):] if line.startswith(_UTF8_MARK) else line
      _check_text_line(line, number, path, header is not None)
      fields = line.split()
      if fields:
        if not dimension:
          header = _word2vec_header(fields)
          if header:
            if header[1] < 1:
              raise DataContractError(f'{path} line {number}: the word2vec header says {header[1]} dimensions')
            dimension, header_line = header[1], number
          else:
            dimension = _first_line_dimension(fields, number, path)
        if number != header_line:
          _split_vector(fields, dimension, number, path, header)
          _numbers(fields[-dimension:], number, path)
          vectors += 1
      if number >= max_lines:
        break
    else:
      whole_file = True
  if not dimension:
    raise DataContractError(f'{path} is empty: expected one word vector a line (`word v1 ... vD`, GloVe), or a '
                            '`<count> <dimension>` header line and then the vectors (word2vec text)')
  if not vectors:
    raise DataContractError(f'{path} has a word2vec header (line {header_line}) but no vectors after it')
  if whole_file and header and vectors != header[0]:  # the header's count can be checked once all was read
    raise DataContractError(f'{path}: the word2vec header (line {header_line}) says {header[0]:,} vectors, the '
                            f'file has {vectors:,} (a truncated or edited file?)')
  return VectorsInfo(dimension=dimension, format=WORD2VEC if header else GLOVE, path=path)


def vectors_fingerprint(path: str) -> str:
  """`sha256:<hex>` of the file's whole content (streamed; about 0.6 s per GB of hashing here, see the module
  docstring): equal for equal content wherever and whenever it was written."""
  digest = hashlib.sha256()
  with _open(path) as reader:
    while True:
      chunk = reader.read(_HASH_CHUNK_BYTES)
      if not chunk:
        break
      digest.update(chunk)
  return f'sha256:{digest.hexdigest()}'


def trainer_config(path: str, freeze_epochs: int = 0, embedding_dim: Optional[int] = None,
                   max_lines: int = DEFAULT_CHECK_LINES) -> Dict[str, Any]:
  """The CLI's pre-flight for `--embeddings FILE`: checks the file (and, when given, that its dimension is the
  model's `embedding_dim`) and returns the Trainer's `custom_config[CONFIG_KEY]`: {'path' (absolute for local
  files), 'format', 'dimension', 'fingerprint', 'freeze_epochs'}. Raises DataContractError."""
  if freeze_epochs < 0:
    raise DataContractError(f'the embedding can be frozen for 0 epochs or more, not {freeze_epochs}')
  info = check_vectors_file(path, max_lines)
  if embedding_dim is not None and embedding_dim != info.dimension:
    raise DataContractError(f'{path} has {info.dimension}-dimensional vectors but the embedding dimension is '
                            f'{embedding_dim}: they must be equal (set the embedding dimension to {info.dimension})')
  return {'path': path if _is_remote(path) else os.path.abspath(path), 'format': info.format,
          'dimension': info.dimension, 'fingerprint': vectors_fingerprint(path), 'freeze_epochs': freeze_epochs}


# ----------------------------------------------------------------------------------------------------
# Loading the vectors of a vocabulary.

def _lower(word: bytes) -> bytes:
  if word.isascii():
    return word.lower()
  return word.decode('utf-8', 'surrogateescape').lower().encode('utf-8', 'surrogateescape')


def load_vectors(path: str, words: Sequence[Optional[str]], dimension: int):
  """The file's vectors of `words`: streams the whole file, parsing numbers only on lines whose word is wanted.

  words[i] is matched exactly, else (when the file has no such word) by the first word whose lower-case form equals
  it; None or '' never matches. Every line's field count is checked, and a word2vec header's dimension and count.

  Returns:
    (matrix, found): float32 [len(words), dimension], the vector of words[i] in row i (zeros when not found), and
    bool [len(words)].
  Raises:
    DataContractError naming the file and line.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top  (not needed by the CLI's pre-flight)
  rows: Dict[bytes, List[int]] = {}
  for i, word in enumerate(words):
    if word:
      rows.setdefault(word.encode('utf-8', 'surrogateescape'), []).append(i)
  matrix = np.zeros([len(words), dimension], np.float32)
  level = np.zeros([len(words)], np.int8)  # 0 not found, 1 by its lower-case form, 2 exactly
  header: Optional[Tuple[int, int]] = None
  seen_first, vectors, header_line = False, 0, 0
  spaces = dimension  # single-space separated lines: `dimension` spaces, the fast path
  with _open(path) as reader:
    for number, line in _lines(reader, path):
      line = line.rstrip()
      if not line:
        continue
      if not seen_first:
        seen_first = True
        if number == 1:
          _check_start(line, path)
          line = line[len(_UTF8_MARK):] if line.startswith(_UTF8_MARK) else line
        header = _word2vec_header(line.split())
        if header:
          if header[1] != dimension:
            raise DataContractError(f'{path} line {number}: the word2vec header says {header[1]} dimensions, '
                                    f'expected {dimension}')
          header_line = number
          continue
      vectors += 1
      space = line.find(b' ')
      if space > 0 and line.count(b' ') == spaces and b'  ' not in line and b'\t' not in line:
        word = line[:space]
      else:
        word = _split_vector(line.split(), dimension, number, path, header)
        if word is None:
          continue
      found_rows, match = rows.get(word), 2
      if found_rows is None:
        lower = _lower(word)
        if lower == word:
          continue
        found_rows, match = rows.get(lower), 1
        if found_rows is None:
          continue
      todo = [i for i in found_rows if level[i] < match]
      if todo:
        fields = line.split()
        _split_vector(fields, dimension, number, path, header)
        matrix[todo] = _numbers(fields[-dimension:], number, path)
        level[todo] = match
  if not seen_first:
    raise DataContractError(f'{path} is empty')
  if header and not vectors:
    raise DataContractError(f'{path} has a word2vec header (line {header_line}) but no vectors after it')
  if header and vectors != header[0]:
    raise DataContractError(f'{path}: the word2vec header (line {header_line}) says {header[0]:,} vectors, the '
                            f'file has {vectors:,} (a truncated or edited file?)')
  return matrix, level > 0


# ----------------------------------------------------------------------------------------------------
# The Trainer's side (TensorFlow from here on, imported inside the functions).

def vocabulary_words(tft_output, vocabulary_name: str) -> List[str]:
  """The tokens of a Transform vocabulary in id order (reserved tokens first, as in the vocabulary file); the ids
  after them (OOV buckets) have no token."""
  from trainer import common  # pylint: disable=g-import-not-at-top
  return common.vocabulary_lists(tft_output, [vocabulary_name])[vocabulary_name]


# The last vectors parsed, by (file fingerprint, dimension, words): a tuning search initialises every trial's model
# from the same file and vocabulary, and parsing a GloVe file takes seconds per GB. One entry bounds the memory.
_last_loaded: Dict[Tuple[str, int, Tuple[Optional[str], ...]], Tuple[Any, Any]] = {}


def _load_vectors_once(path: str, words: Sequence[Optional[str]], dimension: int, fingerprint: Optional[str]):
  """load_vectors, reusing the previous result for the same content (`fingerprint`; None: always parsed)."""
  if fingerprint is None:
    return load_vectors(path, words, dimension)
  key = (fingerprint, dimension, tuple(words))
  if key not in _last_loaded:
    _last_loaded.clear()
    _last_loaded[key] = load_vectors(path, words, dimension)
  return _last_loaded[key]


def initialise_embedding_rows(embedding_layer, vocabulary_words: Sequence[str],  # pylint: disable=redefined-outer-name
                              path: str, dimension: int, fingerprint: Optional[str] = None) -> Dict[str, Any]:
  """Sets the rows of `embedding_layer` (a built keras Embedding) whose token the file has to the file's vectors.

  vocabulary_words[i] is the token of row i; rows past the list (OOV buckets), reserved tokens and tokens the file
  lacks keep their values. With `fingerprint` (the file's vectors_fingerprint) the file is parsed once for
  repeated calls with the same words (tuning trials). Works on MirroredVariables (the weights are read and
  assigned outside a replica context: call it outside `strategy.run`, e.g. right after building the model).

  Returns:
    {'file', 'layer', 'dimension', 'found' (tokens given a vector), 'vocabulary' (tokens that could be: the
    vocabulary without reserved tokens), 'coverage' (found / vocabulary)}.
  Raises:
    ValueError when the layer's dimension is not the file's or the vocabulary is longer than the layer;
    DataContractError for a broken file.
  """
  from preprocessing import text  # pylint: disable=g-import-not-at-top
  reserved = {text.PAD, text.START, text.END}
  weights = embedding_layer.get_weights()
  if not weights:
    raise ValueError(f'layer {embedding_layer.name!r} has no weights yet: build the model first')
  table = weights[0].copy()  # may be a read-only view of the variable's buffer
  if table.ndim != 2 or table.shape[1] != dimension:
    raise ValueError(f'layer {embedding_layer.name!r} has embeddings of shape {table.shape}, {path} has '
                     f'{dimension}-dimensional vectors: the embedding dimension must be {dimension}')
  if len(vocabulary_words) > table.shape[0]:
    raise ValueError(f'layer {embedding_layer.name!r} has {table.shape[0]} rows for a vocabulary of '
                     f'{len(vocabulary_words)} tokens')
  candidates = [None if word in reserved else word for word in vocabulary_words]
  matrix, found = _load_vectors_once(path, candidates, dimension, fingerprint)
  table[:len(candidates)][found] = matrix[found]
  embedding_layer.set_weights([table, *weights[1:]])
  eligible, count = sum(1 for word in candidates if word), int(found.sum())
  return {'file': path, 'layer': embedding_layer.name, 'dimension': dimension, 'found': count,
          'vocabulary': eligible, 'coverage': round(count / eligible, 4) if eligible else 0.0}


def freeze_callback(layer_names: Sequence[str], freeze_epochs: int):
  """A keras Callback that keeps the named layers untrainable during epochs [0, freeze_epochs) of a `fit` and
  trainable afterwards (see the module docstring for the optimizer and EarlyStopping); their `trainable` flags are
  restored when `fit` ends. Add it to the `fit` callbacks."""
  return _freeze_class()(list(layer_names), freeze_epochs)


_FREEZE_CLASS = None


def _freeze_class():
  """The Callback class, defined on first use so that importing this module does not import TensorFlow."""
  global _FREEZE_CLASS  # pylint: disable=global-statement
  if _FREEZE_CLASS is not None:
    return _FREEZE_CLASS
  from absl import logging  # pylint: disable=g-import-not-at-top
  from trainer.common import keras  # pylint: disable=g-import-not-at-top

  class FreezeLayers(keras.callbacks.Callback):
    """Untrainable layers for the first epochs of a fit (freeze_callback)."""

    def __init__(self, layer_names: List[str], freeze_epochs: int):
      super().__init__()
      self.layer_names, self.freeze_epochs = layer_names, freeze_epochs
      self._original: Dict[str, bool] = {}

    def _layers(self):
      return [self.model.get_layer(name) for name in self.layer_names]

    def _set_trainable(self, trainable: bool) -> None:
      for layer in self._layers():
        layer.trainable = trainable
      self.model.make_train_function(force=True)  # the trainable variables are read when it is traced

    def on_train_begin(self, logs=None):
      self._original = {layer.name: layer.trainable for layer in self._layers()}
      optimizer = self.model.optimizer
      if isinstance(optimizer, keras.optimizers.Optimizer):
        # Its slots for every variable now, while all are trainable: a tf_keras optimizer first used on a subset
        # refuses the other variables later ("The optimizer cannot recognize variable ...").
        with self.model.distribute_strategy.scope():
          optimizer.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch, logs=None):
      frozen = epoch < self.freeze_epochs
      if any(layer.trainable == frozen for layer in self._layers()):
        self._set_trainable(not frozen)
        logging.info('epoch %d: layer(s) %s %s', epoch + 1, ', '.join(self.layer_names),
                     'frozen' if frozen else 'trainable again')

    def on_train_end(self, logs=None):
      for layer in self._layers():
        layer.trainable = self._original.get(layer.name, True)
      self.model.make_train_function(force=True)  # a later fit must not reuse the last epoch's function

  _FREEZE_CLASS = FreezeLayers
  return FreezeLayers


def freeze_epochs(config: Dict[str, Any]) -> int:
  """The epochs the pretrained embedding stays fixed (0 without --embeddings)."""
  return int((config.get(CONFIG_KEY) or {}).get('freeze_epochs', 0))


def from_config(config: Dict[str, Any], model, layer_name: str, tft_output, vocabulary_name: str,
                model_run_dir: Optional[str]) -> list:
  """The trainers' one call (in build_and_compile: run_fn and every tuning trial): with `config[CONFIG_KEY]` set (trainer_config's dict), checks the file is the one the
  pipeline was configured with, initialises `model`'s layer `layer_name` from it by the vocabulary
  `vocabulary_name`, logs and writes the report (<model_run_dir>/pretrained_embeddings.json), and returns the fit
  callbacks to add ([freeze_callback] when freeze_epochs > 0). With `config[CONFIG_KEY]` None: returns [].

  Call it after building the model and before `common.warm_start` (which then overrides the rows of tokens the
  base model knows, and leaves the pretrained rows of new tokens).
  """
  if CONFIG_KEY not in config:
    raise ValueError(f'the Trainer\'s custom_config has no {CONFIG_KEY!r} (None, or trainer_config(...))')
  spec = config[CONFIG_KEY]
  if spec is None:
    return []
  from absl import logging  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = spec['path']
  fingerprint = vectors_fingerprint(path)
  if fingerprint != spec['fingerprint']:
    raise DataContractError(f'{path} changed since the pipeline was configured ({spec["fingerprint"]}, now '
                            f'{fingerprint}): run the pipeline again')
  report = initialise_embedding_rows(model.get_layer(layer_name), vocabulary_words(tft_output, vocabulary_name),
                                     path, spec['dimension'], fingerprint)
  report.update(format=spec['format'], fingerprint=fingerprint, freeze_epochs=spec['freeze_epochs'],
                vocabulary_name=vocabulary_name)
  logging.info('pretrained embeddings: %d of %d %s tokens found in %s (%.1f%%); frozen for %d epoch(s)',
               report['found'], report['vocabulary'], vocabulary_name, path, 100 * report['coverage'],
               spec['freeze_epochs'])
  if model_run_dir:
    with tf.io.gfile.GFile(os.path.join(model_run_dir, REPORT_FILE), 'w') as f:
      json.dump(report, f, indent=1, sort_keys=True)
  return [freeze_callback([layer_name], spec['freeze_epochs'])] if spec['freeze_epochs'] > 0 else []
