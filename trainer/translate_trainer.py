"""Translate task: the encoder-decoder LSTM, its training entry point and in-graph decoding (greedy or beam).

Architecture (the seed's Example 3 as the default): source Embedding (mask_zero, so [PAD] steps leave the
state alone) -> LSTM layer(s) with return_state -> the decoder LSTM layer(s) start from the encoder's final
states (layer i from encoder layer i) -> Dense over the target vocabulary. The Dense layer outputs logits
(the loss applies the softmax): same model as the seed's softmax layer, numerically safer.

`attention` ('luong' or 'bahdanau') adds global attention (Luong et al. 2015) over the top encoder layer's
outputs, [PAD] positions excluded: each decoder output scores every source position, multiplicatively
(h_t' W h_s, Luong's "general") or additively (v' tanh(W1 h_t + W2 h_s), Bahdanau et al. 2015's score), and
the context vector and decoder output go through concat + Dense tanh (the "attentional hidden state") before
the logits. No input feeding, so training still runs the decoder over the whole target sequence at once.

Training is teacher-forced on (decoder_input, target_tokens); padding contributes nothing to loss or
accuracy. Serving decodes inside the graph: encode once, then one decoder step at a time until every sentence
produced [END] or max_target_length + 1 steps were taken, and map the ids to words with the target vocabulary
(a SavedModel asset). `beam_size` 1 feeds back the argmax token (greedy); more keeps that many hypotheses per
sentence (beam search) and returns the one with the best length-normalised log-probability.
"""
import dataclasses
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx.components.trainer.fn_args_utils import FnArgs

from preprocessing.translate_transform import DECODER_INPUT_KEY
from preprocessing.translate_transform import END_ID
from preprocessing.translate_transform import PAD_ID
from preprocessing.translate_transform import SOURCE_TOKENS_KEY
from preprocessing.translate_transform import SOURCE_VOCABULARY
from preprocessing.translate_transform import START_ID
from preprocessing.translate_transform import TARGET_TOKENS_KEY
from preprocessing.translate_transform import TARGET_VOCABULARY
from trainer import common
from trainer import pretrained_embeddings
from trainer import tuning
from trainer.common import keras
from trainer.hyperparameters import TranslateHyperparameters

TRANSLATION_OUTPUT = 'translation'
SENTENCE_SIGNATURE = 'translate_sentences'
UNKNOWN_WORD = '[UNK]'  # what an OOV id decodes to


ATTENTION_KINDS = ('none', 'luong', 'bahdanau')
# GNMT's length penalty (Wu et al. 2016), alpha fixed: beam search picks the hypothesis with the best
# log P / ((5 + length) / 6) ** alpha, so a raw sum of log-probabilities does not favour stopping early.
LENGTH_PENALTY_ALPHA = 0.6
NEVER_LOGIT = -1e9  # an OOV id's logit at decoding: never chosen, and no -inf arithmetic


@dataclasses.dataclass
class Seq2Seq:
  """The teacher-forced training model and the two inference models that share its layers.

  With attention, the encoder also returns [top layer outputs [batch, S, units], source mask [batch, S] (bool,
  False at [PAD])] before the states, and the decoder step takes them after the previous token.
  """
  training: keras.Model  # {source_tokens, decoder_input} -> logits [batch, target steps, target vocab]
  encoder: keras.Model  # source_tokens -> [(outputs, mask,) h, c per layer]
  # [previous token [batch, 1], (outputs, mask,) h, c per layer] -> [logits [batch, 1, V], h, c per layer]
  decoder_step: keras.Model
  max_target_length: int
  attention: str = 'none'


class ReverseTokens(keras.layers.Layer):
  """Reverses each sentence's tokens, leaving the padding at the end: [a b c 0 0] -> [c b a 0 0]."""

  def call(self, ids):
    lengths = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int64), axis=1)
    return tf.reverse_sequence(ids, lengths, seq_axis=1, batch_axis=0)


class PaddingMask(keras.layers.Layer):
  """Token ids -> bool mask, False at [PAD]: the source positions attention may look at."""

  def call(self, ids):
    return ids != PAD_ID


class Attention(keras.layers.Layer):
  """Global attention: [queries [batch, T, units], memory [batch, S, units], mask [batch, S]] ->
  (context [batch, T, units], weights [batch, T, S]); weights are exactly 0 at masked positions.

  score 'luong': q' W m (multiplicative, Luong's "general"); 'bahdanau': v' tanh(W1 q + W2 m) (additive).
  """

  def __init__(self, units: int, score: str, **kwargs):
    super().__init__(**kwargs)
    if score not in ATTENTION_KINDS[1:]:
      raise ValueError(f'attention score {score!r}: expected one of {ATTENTION_KINDS[1:]}')
    self.units, self.score = units, score

  def build(self, input_shape):
    if self.score == 'luong':
      self.kernel = self.add_weight('kernel', [self.units, self.units], initializer='glorot_uniform')
    else:
      self.query_kernel = self.add_weight('query_kernel', [self.units, self.units], initializer='glorot_uniform')
      self.memory_kernel = self.add_weight('memory_kernel', [self.units, self.units], initializer='glorot_uniform')
      self.v = self.add_weight('v', [self.units], initializer='glorot_uniform')
    super().build(input_shape)

  def call(self, inputs):
    queries, memory, mask = inputs
    if self.score == 'luong':
      scores = tf.einsum('btu,bsu->bts', queries, tf.einsum('bsu,vu->bsv', memory, self.kernel))
    else:
      hidden = tf.tanh(tf.einsum('btu,uv->btv', queries, self.query_kernel)[:, :, None, :]
                       + tf.einsum('bsu,uv->bsv', memory, self.memory_kernel)[:, None, :, :])
      scores = tf.einsum('btsv,v->bts', hidden, self.v)
    mask = tf.cast(mask, scores.dtype)[:, None, :]
    # The large negative score makes padding's softmax weight 0 whatever it holds; the product keeps a
    # sentence without any real token (all [PAD]) at a zero context instead of a uniform one over padding.
    weights = tf.nn.softmax(scores + (mask - 1.0) * 1e9, axis=-1) * mask
    return tf.einsum('bts,bsu->btu', weights, memory), weights

  def get_config(self):
    return {**super().get_config(), 'units': self.units, 'score': self.score}


def build_model(source_vocab_size: int, target_vocab_size: int, max_target_length: int, embedding_dim: int = 128,
                units: int = 256, layers: int = 1, dropout: float = 0.0, reverse_source: bool = True,
                attention: str = 'none') -> Seq2Seq:
  """The encoder-decoder. Sequences may have any length (training trims each batch to its longest
  sentence); decoding takes at most max_target_length + 1 steps ([END] included).

  reverse_source: the encoder reads each source sentence backwards (Sutskever et al. 2014), so the first
  words the decoder must produce are the last the encoder saw; part of the model, so serving does it too.
  attention: 'none', 'luong' or 'bahdanau' (module docstring). Its layers: 'source_mask' (no weights),
  'attention' (the score's weights), 'attention_output' (the Dense tanh over [context, decoder output]).
  """
  if attention not in ATTENTION_KINDS:
    raise ValueError(f'attention {attention!r}: expected one of {ATTENTION_KINDS}')
  source = keras.Input(shape=(None,), name=SOURCE_TOKENS_KEY, dtype=tf.int64)
  source_ids = ReverseTokens(name='reverse_source')(source) if reverse_source else source
  x = keras.layers.Embedding(source_vocab_size, embedding_dim, mask_zero=True, name='source_embedding')(source_ids)
  encoder_states = []
  for i in range(layers):
    # Attention reads the top layer's output at every source position.
    x, h, c = keras.layers.LSTM(units, dropout=dropout, return_sequences=i < layers - 1 or attention != 'none',
                                return_state=True, name=f'encoder_lstm_{i}')(x)
    encoder_states += [h, c]
  # Reversal keeps padding at the end, so the mask of the ids the encoder read is the source's.
  memory = [x, PaddingMask(name='source_mask')(source_ids)] if attention != 'none' else []

  target_embedding = keras.layers.Embedding(target_vocab_size, embedding_dim, name='target_embedding')
  decoder_lstms = [keras.layers.LSTM(units, dropout=dropout, return_sequences=True, return_state=True,
                                     name=f'decoder_lstm_{i}') for i in range(layers)]
  if attention != 'none':
    attend = Attention(units, attention, name='attention')
    join = keras.layers.Concatenate(name='context_and_output')
    attentional = keras.layers.Dense(units, activation='tanh', use_bias=False, name='attention_output')
  output_dropout = keras.layers.Dropout(dropout, name='output_dropout')
  to_logits = keras.layers.Dense(target_vocab_size, name='logits')

  def decode(tokens, memory, states):
    y, new_states = target_embedding(tokens), []
    for i, lstm in enumerate(decoder_lstms):
      y, h, c = lstm(y, initial_state=states[2 * i:2 * i + 2])
      new_states += [h, c]
    if memory:
      context, _ = attend([y, *memory])
      y = attentional(join([context, y]))
    return to_logits(output_dropout(y)), new_states

  decoder_input = keras.Input(shape=(None,), name=DECODER_INPUT_KEY, dtype=tf.int64)
  logits, _ = decode(decoder_input, memory, encoder_states)
  training = keras.Model({SOURCE_TOKENS_KEY: source, DECODER_INPUT_KEY: decoder_input}, logits, name='seq2seq')

  encoder = keras.Model(source, [*memory, *encoder_states], name='encoder')
  previous = keras.Input(shape=(1,), name='previous_token', dtype=tf.int64)
  memory_inputs = [keras.Input(shape=(None, units), name='encoder_outputs'),
                   keras.Input(shape=(None,), name='encoder_mask', dtype=tf.bool)] if attention != 'none' else []
  state_inputs = [keras.Input(shape=(units,), name=f'state_{i}') for i in range(2 * layers)]
  step_logits, step_states = decode(previous, memory_inputs, state_inputs)
  decoder_step = keras.Model([previous, *memory_inputs, *state_inputs], [step_logits, *step_states],
                             name='decoder_step')
  return Seq2Seq(training, encoder, decoder_step, max_target_length, attention)


def masked_loss(target_tokens: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Mean cross-entropy over each sentence's real (non-[PAD]) target positions: [batch]."""
  target_tokens = tf.cast(target_tokens, tf.int64)
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target_tokens, logits=logits)
  real = tf.cast(target_tokens != PAD_ID, losses.dtype)
  return tf.reduce_sum(losses * real, axis=1) / tf.maximum(tf.reduce_sum(real, axis=1), 1.0)


def masked_accuracy(target_tokens: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
  """Share of non-[PAD] target positions whose argmax is right, per sentence: [batch]."""
  target_tokens = tf.cast(target_tokens, tf.int64)
  real = tf.cast(target_tokens != PAD_ID, tf.float32)
  right = tf.cast(tf.argmax(logits, axis=-1) == target_tokens, tf.float32) * real
  return tf.reduce_sum(right, axis=1) / tf.maximum(tf.reduce_sum(real, axis=1), 1.0)


def trim_padding(features: Dict[str, tf.Tensor], target_tokens: tf.Tensor):
  """Cuts a batch's padded sequences to its longest sentence (padding is at the end and masked or ignored
  anyway), so a batch of short sentences costs short-sentence time."""
  def longest(ids):
    return tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1)), 1)
  features = dict(features)
  features[SOURCE_TOKENS_KEY] = features[SOURCE_TOKENS_KEY][:, :longest(features[SOURCE_TOKENS_KEY])]
  target_length = longest(target_tokens)
  features[DECODER_INPUT_KEY] = features[DECODER_INPUT_KEY][:, :target_length]
  return features, target_tokens[:, :target_length]


def _encode(seq2seq: Seq2Seq, source_tokens: tf.Tensor):
  """(what the decoder step takes besides the token and states: [] or [encoder outputs, source mask], states)."""
  outputs = seq2seq.encoder(source_tokens, training=False)
  outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
  split = 0 if seq2seq.attention == 'none' else 2
  return outputs[:split], outputs[split:]


def _decoder_step(seq2seq: Seq2Seq, previous: tf.Tensor, memory: List[tf.Tensor], states: List[tf.Tensor],
                  words: Optional[int] = None):
  """(logits [batch, V] for the next token, new states). With `words` (the target vocabulary file's size), the
  ids after it, the OOV buckets, are never chosen: a translation would show them as [UNK]."""
  outputs = seq2seq.decoder_step([previous, *memory, *states], training=False)
  logits = outputs[0][:, -1, :]
  if words is not None:
    logits = tf.where(tf.range(tf.shape(logits)[-1]) < words, logits, NEVER_LOGIT)
  return logits, list(outputs[1:])


def greedy_decode(seq2seq: Seq2Seq, source_tokens: tf.Tensor, words: Optional[int] = None) -> tf.Tensor:
  """Source ids [batch, max_source_length] -> generated target ids [batch, steps], [PAD] after [END]; with
  `words`, never an OOV id (see _decoder_step).

  Stops when every sentence has produced [END], or after max_target_length + 1 steps. Call it inside a
  tf.function: the loop becomes a tf.while_loop in the exported graph.
  """
  memory, states = _encode(seq2seq, source_tokens)
  batch = tf.shape(source_tokens)[0]
  previous = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
  finished = tf.zeros([batch], tf.bool)
  generated = tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=tf.TensorShape([None]))
  for step in tf.range(seq2seq.max_target_length + 1):
    logits, states = _decoder_step(seq2seq, previous, memory, states, words)
    token = tf.argmax(logits, axis=-1, output_type=tf.int64)
    token = tf.where(finished, tf.constant(PAD_ID, tf.int64), token)
    generated = generated.write(step, token)
    finished = finished | (token == END_ID)
    previous = token[:, None]
    if tf.reduce_all(finished):
      break
  return tf.transpose(generated.stack())


def beam_decode(seq2seq: Seq2Seq, source_tokens: tf.Tensor, beam_size: int, words: Optional[int] = None) -> tf.Tensor:
  """Beam search: the same contract as greedy_decode (ids [batch, steps], [PAD] after [END], `words`), returning each
  sentence's best hypothesis by length-normalised log-probability (LENGTH_PENALTY_ALPHA).

  Hypotheses compete by their summed log-probability; a finished one ([END] produced) stays in the beam and
  extends only with [PAD] at zero cost. Stops when every hypothesis of every sentence has finished, or after
  max_target_length + 1 steps. beam_size must not exceed the target vocabulary size; 1 gives greedy_decode's
  output. Call it inside a tf.function, like greedy_decode.
  """
  vocabulary = seq2seq.decoder_step.outputs[0].shape[-1]
  if not 1 <= beam_size <= vocabulary:
    raise ValueError(f'beam_size {beam_size}: must be from 1 to the target vocabulary size ({vocabulary})')
  memory, states = _encode(seq2seq, source_tokens)
  batch = tf.shape(source_tokens)[0]
  # Row b * beam_size + k holds hypothesis k of sentence b. A sentence's hypotheses share its encoder outputs
  # and mask, so only the states follow each hypothesis' parent below.
  memory = [tf.repeat(m, beam_size, axis=0) for m in memory]
  states = [tf.repeat(s, beam_size, axis=0) for s in states]
  max_steps = seq2seq.max_target_length + 1
  # All hypotheses start identical: only the first may expand at step 0, or the beam would hold copies.
  scores = tf.tile(tf.constant([[0.0] + [-float('inf')] * (beam_size - 1)]), [batch, 1])  # [batch, beam]
  finished = tf.zeros([batch, beam_size], tf.bool)
  sequences = tf.fill([batch, beam_size, max_steps], tf.constant(PAD_ID, tf.int64))
  previous = tf.fill([batch * beam_size, 1], tf.constant(START_ID, tf.int64))
  steps = tf.constant(0)
  rows = tf.range(batch)[:, None] * beam_size  # first row of each sentence in the [batch * beam] tensors
  for step in tf.range(max_steps):
    logits, states = _decoder_step(seq2seq, previous, memory, states, words)
    logits = tf.reshape(logits, [-1, beam_size, vocabulary])
    # Each hypothesis' beam_size best next tokens (no more can survive), ranked by the logits themselves:
    # adding them to a score could round near-ties together, and a beam of one must pick greedy's argmax.
    top_logits, tokens = tf.math.top_k(logits, k=beam_size)  # [batch, beam, beam]
    log_probs = top_logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
    # A finished hypothesis has one continuation, [PAD] at no cost, so its score stays as it was.
    only_pad = tf.where(tf.range(beam_size) == 0, 0.0, -float('inf'))
    log_probs = tf.where(finished[:, :, None], only_pad, log_probs)
    tokens = tf.where(finished[:, :, None], tf.constant(PAD_ID, tf.int32), tokens)
    candidates = tf.reshape(scores[:, :, None] + log_probs, [-1, beam_size * beam_size])
    scores, best = tf.math.top_k(candidates, k=beam_size)  # [batch, beam]
    parent = best // beam_size
    token = tf.cast(tf.gather(tf.reshape(tokens, [-1, beam_size * beam_size]), best, batch_dims=1), tf.int64)
    sequences = tf.gather(sequences, parent, batch_dims=1)
    sequences = tf.where(tf.range(max_steps) == step, token[:, :, None], sequences)
    finished = tf.gather(finished, parent, batch_dims=1) | (token == END_ID)
    states = [tf.gather(s, tf.reshape(rows + parent, [-1])) for s in states]
    previous = tf.reshape(token, [-1, 1])
    steps = step + 1
    if tf.reduce_all(finished):
      break
  lengths = tf.reduce_sum(tf.cast(sequences != PAD_ID, tf.float32), axis=2)  # [END] included
  normalised = scores / ((5.0 + lengths) / 6.0) ** LENGTH_PENALTY_ALPHA
  best = tf.argmax(normalised, axis=1, output_type=tf.int32)
  return tf.gather(sequences, best, batch_dims=1)[:, :steps]


def ids_to_text(ids: tf.Tensor, words: tf.lookup.StaticHashTable) -> tf.Tensor:
  """Generated ids [batch, steps] -> one string per sentence: the words before [END], space-joined, with
  the tokenizer's splits of apostrophes and of `. , )` undone."""
  before_end = tf.equal(tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=1), 0)
  keep = before_end & (ids != PAD_ID) & (ids != START_ID)
  joined = tf.strings.reduce_join(tf.ragged.boolean_mask(words.lookup(ids), keep), axis=1, separator=' ')
  joined = tf.strings.regex_replace(joined, r" ([.,)])", r"\1")
  return tf.strings.regex_replace(joined, r" '", "'")


def target_words_table(vocabulary_file: str) -> tf.lookup.StaticHashTable:
  """Id -> word from a tf.Transform vocabulary file (one token a line; OOV ids -> UNKNOWN_WORD)."""
  return tf.lookup.StaticHashTable(
      tf.lookup.TextFileInitializer(vocabulary_file, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
                                    tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
      default_value=UNKNOWN_WORD)


def serving_signatures(seq2seq: Seq2Seq, tft_output: tft.TFTransformOutput, source_column: str,
                       target_column: str, beam_size: int = 1) -> Dict[str, Any]:
  """`translate_sentences` (raw source strings -> translations), `serving_default` (serialized tf.Examples ->
  the same strings) and `transform_features`. Layers and tables are tracked on the training model.
  beam_size 1 decodes greedily, more with beam search."""
  model = seq2seq.training
  model.tft_layer = tft_output.transform_features_layer()
  model.target_words = target_words_table(tft_output.vocabulary_file_by_name(TARGET_VOCABULARY))
  model.encoder_model, model.decoder_step_model = seq2seq.encoder, seq2seq.decoder_step
  parse = common.raw_example_parser(tft_output, [source_column])
  words = tft_output.vocabulary_size_by_name(TARGET_VOCABULARY)  # ids from here on are OOV: never generated

  def translate(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    source_tokens = model.tft_layer(raw)[SOURCE_TOKENS_KEY]
    ids = (greedy_decode(seq2seq, source_tokens, words) if beam_size == 1
           else beam_decode(seq2seq, source_tokens, beam_size, words))
    return {TRANSLATION_OUTPUT: ids_to_text(ids, model.target_words)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serving_default(serialized):
    return translate(parse(serialized))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=source_column)])
  def translate_sentences(sentences):
    return translate({source_column: tf.reshape(sentences, [-1, 1])})

  return {
      'serving_default': serving_default,
      SENTENCE_SIGNATURE: translate_sentences,
      'transform_features': common.transform_features_signature(model, tft_output, target_column),
  }


def compile_model(seq2seq: Seq2Seq, learning_rate: float, steps_per_execution: int) -> None:
  seq2seq.training.compile(
      optimizer=keras.optimizers.Adam(learning_rate),
      # Several steps per call: these models are small, so per-step dispatch would dominate.
      steps_per_execution=steps_per_execution,
      loss=masked_loss, metrics=[masked_accuracy])


def model_of(tft_output: tft.TFTransformOutput, config: Dict[str, Any], hparams: TranslateHyperparameters) -> Seq2Seq:
  """The uncompiled model a Trainer with this Transform output, custom_config and hyperparameters builds."""
  source_vocab_size, target_vocab_size = vocabulary_sizes(tft_output, config['num_oov_buckets'])
  if hparams.beam_size > target_vocab_size:  # now, not at export after all the training
    raise ValueError(f'--beam-size {hparams.beam_size} exceeds the target vocabulary ({target_vocab_size} ids)')
  return build_model(source_vocab_size, target_vocab_size, config['max_target_length'],
                     embedding_dim=hparams.embedding_dim, units=hparams.units, layers=hparams.layers,
                     dropout=hparams.dropout, reverse_source=hparams.reverse_source, attention=hparams.attention)


def build_and_compile(setup: common.TrainingSetup, hparams: TranslateHyperparameters,
                      model_run_dir: Optional[str] = None) -> Tuple[Seq2Seq, List[keras.callbacks.Callback]]:
  """The model of `hparams`, compiled, with the --embeddings file's vectors in its source embedding rows, and the
  callbacks its fit needs (freezing those rows at first); call under the strategy's scope (run_fn and tuning
  trials)."""
  seq2seq = model_of(setup.tft_output, setup.config, hparams)
  compile_model(seq2seq, hparams.learning_rate, hparams.steps_per_execution)
  return seq2seq, pretrained_embeddings.from_config(setup.config, seq2seq.training, 'source_embedding',
                                                    setup.tft_output, SOURCE_VOCABULARY, model_run_dir)


def fit(setup: common.TrainingSetup, seq2seq: Seq2Seq, hparams: TranslateHyperparameters,
        callbacks: List[keras.callbacks.Callback]):
  """Teacher-forced training, early-stopping on the eval loss (`patience`); returns the History."""
  callbacks = list(callbacks)  # early stopping first: later callbacks' on_train_end see the restored weights
  if hparams.patience > 0:
    # Counted from the first epoch that trains the source embedding (--freeze-embedding-epochs).
    callbacks.insert(0, keras.callbacks.EarlyStopping(monitor='val_loss', patience=hparams.patience,
                                                   restore_best_weights=True,
                                                   start_from_epoch=pretrained_embeddings.freeze_epochs(setup.config)))
  train, evaluation = setup.train, setup.evaluation
  if setup.strategy.num_replicas_in_sync == 1:
    # Not with several replicas: tf.distribute re-batches the input per replica before this map, so replicas
    # would get different lengths, and the all-gather of the embeddings' sparse gradients needs equal shapes.
    train, evaluation = (dataset.map(trim_padding) for dataset in (train, evaluation))
  return seq2seq.training.fit(train, validation_data=evaluation, epochs=hparams.epochs, verbose=0,
                              callbacks=callbacks)


def vocabulary_sizes(tft_output: tft.TFTransformOutput, num_oov_buckets: int) -> List[int]:
  """Model vocabulary sizes (source, target): the vocabulary file (reserved tokens included) + OOV buckets."""
  return [tft_output.vocabulary_size_by_name(name) + num_oov_buckets
          for name in (SOURCE_VOCABULARY, TARGET_VOCABULARY)]


# TFX Trainer will call this function (on every worker of a multi-worker cluster; only the chief writes).
@common.chief_writes_outputs
def run_fn(fn_args: FnArgs) -> None:
  """Trains the encoder-decoder with teacher forcing and exports it with in-graph greedy or beam decoding.

  Args:
    fn_args: TFX trainer arguments; `base_model` (the latest blessed model, when warm starting) gives the
      starting weights; `hyperparameters` (with --tune) the search's best values. `custom_config` carries
      Transform's values (`source_column`, `target_column`, vocabulary sizes, `max_source_length`,
      `max_target_length`, `num_oov_buckets`), `pretrained_embeddings` and `hyperparameters`, every field of
      TranslateHyperparameters (`patience`: epochs without eval-loss improvement; 0 = never stop early).
  """
  setup = common.TrainingSetup(fn_args, TARGET_TOKENS_KEY, TranslateHyperparameters)
  config, hparams, tft_output, strategy = setup.config, setup.hparams, setup.tft_output, setup.strategy
  with strategy.scope():
    seq2seq, embedding_callbacks = build_and_compile(setup, hparams, fn_args.model_run_dir)
  vocabulary_axes = {'source_embedding/0': common.VocabularyAxis(SOURCE_VOCABULARY),
                     'target_embedding/0': common.VocabularyAxis(TARGET_VOCABULARY),
                     'logits/0': common.VocabularyAxis(TARGET_VOCABULARY, axis=1),  # kernel [units, vocabulary]
                     'logits/1': common.VocabularyAxis(TARGET_VOCABULARY)}  # bias [vocabulary]
  common.warm_start(seq2seq.training, fn_args, tft_output, vocabulary_axes)  # known tokens keep the base's rows
  logging.info('seq2seq model on %d replica(s), global batch %d, vocabularies %d -> %d',
               strategy.num_replicas_in_sync, setup.batch_size, *vocabulary_sizes(tft_output, config['num_oov_buckets']))
  fit(setup, seq2seq, hparams, common.training_callbacks(fn_args, hparams.epochs, 'loss') + embedding_callbacks)
  # Before the export adds the Transform layers to the model's layers.
  common.save_warm_start_state(seq2seq.training, fn_args, tft_output, vocabulary_axes)
  common.export_model(seq2seq.training, fn_args.serving_model_dir,
                      serving_signatures(seq2seq, tft_output, config['source_column'], config['target_column'],
                                         beam_size=hparams.beam_size),
                      {'task': 'translate', 'sentence_signature': SENTENCE_SIGNATURE,
                       'source_column': config['source_column'], 'attention': hparams.attention,
                       'beam_size': hparams.beam_size})


# TFX Tuner will call this function (with --tune).
def tuner_fn(fn_args: FnArgs) -> tfx.components.TunerFnResult:
  """Searches the task spec's space (custom_config['tuning']) for the lowest eval loss, training each trial as
  run_fn would (without warm start)."""
  return tuning.make_tuner(fn_args, TARGET_TOKENS_KEY, TranslateHyperparameters, build_and_compile, fit)
