"""Text normalisation and vocabulary helpers shared by the sentiment and translate preprocessing_fns.

Everything here runs inside the Transform graph, so training, evaluation and serving normalise text the
same way by construction.
"""
from typing import Sequence

import tensorflow as tf
import tensorflow_transform as tft

PAD = '[PAD]'
START = '[START]'
END = '[END]'
# Punctuation becomes a token of its own ("good!" -> "good !"); quotes and dashes are dropped.
_PUNCTUATION_TOKENS = r'([.,!?;:()¿¡])'
_DROPPED = r'["“”«»—–]'


def normalize(text: tf.Tensor) -> tf.Tensor:
  """Lower-cases, separates punctuation, drops quotes, folds whitespace. string [batch] -> string [batch]."""
  text = tf.strings.lower(tf.reshape(text, [-1]), encoding='utf-8')
  text = tf.strings.regex_replace(text, '[’‘`]', "'")
  text = tf.strings.regex_replace(text, _DROPPED, ' ')
  text = tf.strings.regex_replace(text, _PUNCTUATION_TOKENS, r' \1 ')
  text = tf.strings.regex_replace(text, r"(\w)'(\w)", r"\1 '\2")  # it's -> it 's (as in SST and Tatoeba)
  # RE2's \s is ASCII only: Tatoeba's French keeps its (narrow) no-break space before ? ! : ; inside the token
  # ("ici\u202f"). Folding Unicode spaces into ' ' (r'[\s\pZ]+') was tried and cut the bundled translate run's
  # held-out BLEU from 15.77 to 9.96 (one seed, same flags): kept as it is until several seeds say otherwise.
  return tf.strings.strip(tf.strings.regex_replace(text, r'\s+', ' '))


def tokenize(text: tf.Tensor) -> tf.RaggedTensor:
  """string [batch] -> ragged string tokens [batch, None]."""
  return tf.strings.split(normalize(text))


def token_ids(tokens: tf.RaggedTensor, vocab_filename: str, top_k: int, num_oov_buckets: int,
              reserved_tokens: Sequence[str], min_count: int = 1) -> tf.RaggedTensor:
  """Vocabulary over the tokens (reserved tokens first, ids 0..): the `top_k` most frequent seen at least
  `min_count` times; then each token -> its id.

  OOV tokens map to ids vocabulary_size .. vocabulary_size + num_oov_buckets - 1.
  """
  return tft.compute_and_apply_vocabulary(
      tokens, top_k=top_k, frequency_threshold=min_count if min_count > 1 else None,
      num_oov_buckets=num_oov_buckets, vocab_filename=vocab_filename, reserved_tokens=list(reserved_tokens))


def pad_to(ids: tf.RaggedTensor, length: int) -> tf.Tensor:
  """Ragged ids -> int64 [batch, length]: truncated, padded with 0 (= [PAD])."""
  return ids.to_tensor(default_value=0, shape=[None, length])


def length_bucket(lengths: tf.Tensor, boundaries: Sequence[int]) -> tf.Tensor:
  """int64 [batch] lengths -> index of the first boundary >= the length (len(boundaries) if none)."""
  lengths = tf.cast(lengths, tf.int64)
  return tf.reduce_sum(tf.cast(lengths[:, None] > tf.constant(boundaries, tf.int64)[None, :], tf.int64), axis=1)
