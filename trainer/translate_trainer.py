"""Translate task: the encoder-decoder LSTM, its training entry point and in-graph greedy decoding.

Architecture (the seed's Example 3 as the default): source Embedding (mask_zero, so [PAD] steps leave the
state alone) -> LSTM layer(s) with return_state -> the decoder LSTM layer(s) start from the encoder's final
states (layer i from encoder layer i) -> Dense over the target vocabulary. The Dense layer outputs logits
(the loss applies the softmax): same model as the seed's softmax layer, numerically safer.

Training is teacher-forced on (decoder_input, target_tokens); padding contributes nothing to loss or
accuracy. Serving decodes greedily inside the graph: encode once, then feed back the argmax token one step
at a time until every sentence produced [END] or max_target_length + 1 steps were taken, and map the ids
to words with the target vocabulary (a SavedModel asset).
"""
import dataclasses
from typing import Any, Dict, List

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
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
from trainer.common import keras
from trainer.hyperparameters import TranslateHyperparameters

TRANSLATION_OUTPUT = 'translation'
SENTENCE_SIGNATURE = 'translate_sentences'
UNKNOWN_WORD = '[UNK]'  # what an OOV id decodes to


@dataclasses.dataclass
class Seq2Seq:
  """The teacher-forced training model and the two inference models that share its layers."""
  training: keras.Model  # {source_tokens, decoder_input} -> logits [batch, target steps, target vocab]
  encoder: keras.Model  # source_tokens -> [h, c] per layer
  decoder_step: keras.Model  # [previous token [batch, 1], h, c per layer] -> [logits [batch, 1, V], h, c ...]
  max_target_length: int


class ReverseTokens(keras.layers.Layer):
  """Reverses each sentence's tokens, leaving the padding at the end: [a b c 0 0] -> [c b a 0 0]."""

  def call(self, ids):
    lengths = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int64), axis=1)
    return tf.reverse_sequence(ids, lengths, seq_axis=1, batch_axis=0)


def build_model(source_vocab_size: int, target_vocab_size: int, max_target_length: int, embedding_dim: int = 128,
                units: int = 256, layers: int = 1, dropout: float = 0.0, reverse_source: bool = True) -> Seq2Seq:
  """The encoder-decoder. Sequences may have any length (training trims each batch to its longest
  sentence); greedy decoding takes at most max_target_length + 1 steps ([END] included).

  reverse_source: the encoder reads each source sentence backwards (Sutskever et al. 2014), so the first
  words the decoder must produce are the last the encoder saw; part of the model, so serving does it too.
  """
  source = keras.Input(shape=(None,), name=SOURCE_TOKENS_KEY, dtype=tf.int64)
  source_ids = ReverseTokens(name='reverse_source')(source) if reverse_source else source
  x = keras.layers.Embedding(source_vocab_size, embedding_dim, mask_zero=True, name='source_embedding')(source_ids)
  encoder_states = []
  for i in range(layers):
    x, h, c = keras.layers.LSTM(units, dropout=dropout, return_sequences=i < layers - 1, return_state=True,
                                name=f'encoder_lstm_{i}')(x)
    encoder_states += [h, c]

  target_embedding = keras.layers.Embedding(target_vocab_size, embedding_dim, name='target_embedding')
  decoder_lstms = [keras.layers.LSTM(units, dropout=dropout, return_sequences=True, return_state=True,
                                     name=f'decoder_lstm_{i}') for i in range(layers)]
  output_dropout = keras.layers.Dropout(dropout, name='output_dropout')
  to_logits = keras.layers.Dense(target_vocab_size, name='logits')

  def decode(tokens, states):
    y, new_states = target_embedding(tokens), []
    for i, lstm in enumerate(decoder_lstms):
      y, h, c = lstm(y, initial_state=states[2 * i:2 * i + 2])
      new_states += [h, c]
    return to_logits(output_dropout(y)), new_states

  decoder_input = keras.Input(shape=(None,), name=DECODER_INPUT_KEY, dtype=tf.int64)
  logits, _ = decode(decoder_input, encoder_states)
  training = keras.Model({SOURCE_TOKENS_KEY: source, DECODER_INPUT_KEY: decoder_input}, logits, name='seq2seq')

  encoder = keras.Model(source, encoder_states, name='encoder')
  previous = keras.Input(shape=(1,), name='previous_token', dtype=tf.int64)
  state_inputs = [keras.Input(shape=(units,), name=f'state_{i}') for i in range(2 * layers)]
  step_logits, step_states = decode(previous, state_inputs)
  decoder_step = keras.Model([previous, *state_inputs], [step_logits, *step_states], name='decoder_step')
  return Seq2Seq(training, encoder, decoder_step, max_target_length)


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


def greedy_decode(seq2seq: Seq2Seq, source_tokens: tf.Tensor) -> tf.Tensor:
  """Source ids [batch, max_source_length] -> generated target ids [batch, steps], [PAD] after [END].

  Stops when every sentence has produced [END], or after max_target_length + 1 steps. Call it inside a
  tf.function: the loop becomes a tf.while_loop in the exported graph.
  """
  states = seq2seq.encoder(source_tokens, training=False)
  states = list(states) if isinstance(states, (list, tuple)) else [states]
  batch = tf.shape(source_tokens)[0]
  previous = tf.fill([batch, 1], tf.constant(START_ID, tf.int64))
  finished = tf.zeros([batch], tf.bool)
  generated = tf.TensorArray(tf.int64, size=0, dynamic_size=True, element_shape=tf.TensorShape([None]))
  for step in tf.range(seq2seq.max_target_length + 1):
    outputs = seq2seq.decoder_step([previous, *states], training=False)
    states = list(outputs[1:])
    token = tf.argmax(outputs[0][:, -1, :], axis=-1, output_type=tf.int64)
    token = tf.where(finished, tf.constant(PAD_ID, tf.int64), token)
    generated = generated.write(step, token)
    finished = finished | (token == END_ID)
    previous = token[:, None]
    if tf.reduce_all(finished):
      break
  return tf.transpose(generated.stack())


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
                       target_column: str) -> Dict[str, Any]:
  """`translate_sentences` (raw source strings -> translations), `serving_default` (serialized tf.Examples ->
  the same strings) and `transform_features`. Layers and tables are tracked on the training model."""
  model = seq2seq.training
  model.tft_layer = tft_output.transform_features_layer()
  model.target_words = target_words_table(tft_output.vocabulary_file_by_name(TARGET_VOCABULARY))
  model.encoder_model, model.decoder_step_model = seq2seq.encoder, seq2seq.decoder_step
  parse = common.raw_example_parser(tft_output, [source_column])

  def translate(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    source_tokens = model.tft_layer(raw)[SOURCE_TOKENS_KEY]
    return {TRANSLATION_OUTPUT: ids_to_text(greedy_decode(seq2seq, source_tokens), model.target_words)}

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


def vocabulary_sizes(tft_output: tft.TFTransformOutput, num_oov_buckets: int) -> List[int]:
  """Model vocabulary sizes (source, target): the vocabulary file (reserved tokens included) + OOV buckets."""
  return [tft_output.vocabulary_size_by_name(name) + num_oov_buckets
          for name in (SOURCE_VOCABULARY, TARGET_VOCABULARY)]


# TFX Trainer will call this function (on every worker of a multi-worker cluster; only the chief writes).
@common.chief_writes_outputs
def run_fn(fn_args: FnArgs) -> None:
  """Trains the encoder-decoder with teacher forcing and exports it with in-graph greedy decoding.

  Args:
    fn_args: TFX trainer arguments; `base_model` (the latest blessed model, when warm starting) gives the
      starting weights. `custom_config` carries Transform's values (`source_column`, `target_column`,
      vocabulary sizes, `max_source_length`, `max_target_length`, `num_oov_buckets`) and `hyperparameters`, every
      field of TranslateHyperparameters (`patience`: epochs without eval-loss improvement; 0 = never stop early).
  """
  setup = common.TrainingSetup(fn_args, TARGET_TOKENS_KEY, TranslateHyperparameters)
  config, hparams, tft_output, strategy = setup.config, setup.hparams, setup.tft_output, setup.strategy
  source_vocab_size, target_vocab_size = vocabulary_sizes(tft_output, config['num_oov_buckets'])
  with strategy.scope():
    seq2seq = build_model(source_vocab_size, target_vocab_size, config['max_target_length'],
                          embedding_dim=hparams.embedding_dim, units=hparams.units, layers=hparams.layers,
                          dropout=hparams.dropout, reverse_source=hparams.reverse_source)
    compile_model(seq2seq, hparams.learning_rate, hparams.steps_per_execution)
  vocabulary_axes = {'source_embedding/0': common.VocabularyAxis(SOURCE_VOCABULARY),
                     'target_embedding/0': common.VocabularyAxis(TARGET_VOCABULARY),
                     'logits/0': common.VocabularyAxis(TARGET_VOCABULARY, axis=1),  # kernel [units, vocabulary]
                     'logits/1': common.VocabularyAxis(TARGET_VOCABULARY)}  # bias [vocabulary]
  common.warm_start(seq2seq.training, fn_args, tft_output, vocabulary_axes)
  callbacks = common.training_callbacks(fn_args, hparams.epochs, 'loss')
  if hparams.patience > 0:
    callbacks.append(keras.callbacks.EarlyStopping(monitor='val_loss', patience=hparams.patience,
                                                   restore_best_weights=True))
  logging.info('seq2seq model on %d replica(s), global batch %d, vocabularies %d -> %d',
               strategy.num_replicas_in_sync, setup.batch_size, source_vocab_size, target_vocab_size)
  train, evaluation = setup.train, setup.evaluation
  if strategy.num_replicas_in_sync == 1:
    # Not with several replicas: tf.distribute re-batches the input per replica before this map, so replicas
    # would get different lengths, and the all-gather of the embeddings' sparse gradients needs equal shapes.
    train, evaluation = (dataset.map(trim_padding) for dataset in (train, evaluation))
  seq2seq.training.fit(train, validation_data=evaluation, epochs=hparams.epochs, verbose=0, callbacks=callbacks)
  # Before the export adds the Transform layers to the model's layers.
  common.save_warm_start_state(seq2seq.training, fn_args, tft_output, vocabulary_axes)
  common.export_model(seq2seq.training, fn_args.serving_model_dir,
                      serving_signatures(seq2seq, tft_output, config['source_column'], config['target_column']),
                      {'task': 'translate', 'sentence_signature': SENTENCE_SIGNATURE,
                       'source_column': config['source_column']})
