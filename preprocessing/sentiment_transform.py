"""tf.Transform for the sentiment task: normalise, tokenize, vocabulary with [PAD]=0, pad/truncate."""
from typing import Any, Dict

import tensorflow as tf

from preprocessing import text

TOKENS_KEY = 'tokens'
LABEL_KEY = 'label'
LENGTH_BUCKET_KEY = 'length_bucket'
VOCABULARY_NAME = 'sentence_vocab'
# Upper bounds (in tokens) of the sentence-length slices the Evaluator reports.
LENGTH_BUCKET_BOUNDARIES = (5, 10, 20, 30)


# TFX Transform will call this function.
def preprocessing_fn(inputs: Dict[str, tf.Tensor], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  """Sentence -> padded token ids; label passes through; a length bucket for slicing.

  Args:
    inputs: raw features: the text column (string) and the label column (int 0/1), names from custom_config.
    custom_config: `text_column`, `label_column`, `vocab_size` (top-k tokens kept), `num_oov_buckets`,
      `max_length` (tokens after which sentences are truncated).

  Returns:
    `tokens` int64 [batch, max_length] (0 = [PAD]), `label` int64 [batch] (when the label is fed), and
    `length_bucket` int64 [batch]: index of the first of LENGTH_BUCKET_BOUNDARIES >= the token count.
  """
  tokens = text.tokenize(inputs[custom_config['text_column']])
  ids = text.token_ids(tokens, VOCABULARY_NAME, top_k=int(custom_config['vocab_size']),
                       num_oov_buckets=int(custom_config['num_oov_buckets']), reserved_tokens=[text.PAD])
  outputs = {
      TOKENS_KEY: text.pad_to(ids, int(custom_config['max_length'])),
      LENGTH_BUCKET_KEY: text.length_bucket(tokens.row_lengths(), LENGTH_BUCKET_BOUNDARIES),
  }
  label_column = custom_config['label_column']
  if label_column in inputs:
    outputs[LABEL_KEY] = tf.reshape(tf.cast(inputs[label_column], tf.int64), [-1])
  return outputs
