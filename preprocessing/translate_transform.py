"""tf.Transform for the translate task: two vocabularies, encoder input, decoder input and shifted target.

Ids in both vocabularies: [PAD]=0, [START]=1, [END]=2, then the top-k tokens of the train split by
frequency, then the OOV bucket(s). Sentences are truncated to their max length in tokens *before* [START] and
[END] are added, so every target sequence ends with [END] and the model always learns to stop.
"""
from typing import Any, Dict

import tensorflow as tf

from preprocessing import text

SOURCE_TOKENS_KEY = 'source_tokens'  # encoder input, [batch, max_source_length]
DECODER_INPUT_KEY = 'decoder_input'  # [START] + target, [batch, max_target_length + 1]
TARGET_TOKENS_KEY = 'target_tokens'  # target + [END] (the decoder input shifted by one), same shape
SOURCE_LENGTH_BUCKET_KEY = 'source_length_bucket'
SOURCE_VOCABULARY = 'source_vocab'
TARGET_VOCABULARY = 'target_vocab'
RESERVED_TOKENS = (text.PAD, text.START, text.END)
PAD_ID, START_ID, END_ID = 0, 1, 2
# Upper bounds (in source tokens, punctuation included) of the slices the Evaluator reports.
SOURCE_LENGTH_BUCKET_BOUNDARIES = (3, 5, 8, 12)


# TFX Transform will call this function.
def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """Raw sentence pairs -> padded id sequences for the encoder-decoder.

  Args:
    inputs: `source` and (except at serving time) `target` raw strings; names from custom_config.
    custom_config: `source_column`, `target_column`, `source_vocab_size`, `target_vocab_size` (top-k tokens
      kept), `min_word_count` (tokens seen fewer times are OOV), `num_oov_buckets`, `max_source_length`,
      `max_target_length` (tokens; longer sentences are truncated).

  Returns:
    `source_tokens` int64 [batch, max_source_length]; `source_length_bucket` int64 [batch] (index of the first
    of SOURCE_LENGTH_BUCKET_BOUNDARIES >= the source token count); with a target: `decoder_input` and
    `target_tokens`, int64 [batch, max_target_length + 1], 0-padded.
  """
  oov, min_count = int(custom_config['num_oov_buckets']), int(custom_config['min_word_count'])
  source_tokens = text.tokenize(inputs[custom_config['source_column']])
  source_ids = text.token_ids(source_tokens, SOURCE_VOCABULARY, int(custom_config['source_vocab_size']), oov,
                              RESERVED_TOKENS, min_count)
  outputs = {
      SOURCE_TOKENS_KEY: text.pad_to(source_ids, int(custom_config['max_source_length'])),
      SOURCE_LENGTH_BUCKET_KEY: text.length_bucket(source_tokens.row_lengths(), SOURCE_LENGTH_BUCKET_BOUNDARIES),
  }
  target_column = custom_config['target_column']
  if target_column in inputs:
    max_length = int(custom_config['max_target_length'])
    target_ids = text.token_ids(text.tokenize(inputs[target_column]), TARGET_VOCABULARY,
                                int(custom_config['target_vocab_size']), oov, RESERVED_TOKENS,
                                min_count)[:, :max_length]
    rows = target_ids.nrows()
    start = tf.fill([rows, 1], tf.constant(START_ID, tf.int64))
    end = tf.fill([rows, 1], tf.constant(END_ID, tf.int64))
    outputs[DECODER_INPUT_KEY] = text.pad_to(tf.concat([start, target_ids], axis=1), max_length + 1)
    outputs[TARGET_TOKENS_KEY] = text.pad_to(tf.concat([target_ids, end], axis=1), max_length + 1)
  return outputs
