"""Sentiment task: the Bi-LSTM classifier, its training entry point and its serving signatures.

Architecture (the seed's Example 2 as the default): Embedding (mask_zero, so [PAD]=0 is masked) ->
Bidirectional LSTM layer(s) -> Dense(1, sigmoid). Serving answers probabilities, not logits, so the
Evaluator's AUC and accuracy thresholds mean what they say.
"""
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx.components.trainer.fn_args_utils import FnArgs

from preprocessing.sentiment_transform import LABEL_KEY
from preprocessing.sentiment_transform import TOKENS_KEY
from preprocessing.sentiment_transform import VOCABULARY_NAME
from trainer import common
from trainer import pretrained_embeddings
from trainer import tuning
from trainer.common import keras
from trainer.hyperparameters import SentimentHyperparameters

PROBABILITY_OUTPUT = 'probability'
SENTENCE_SIGNATURE = 'classify_sentences'


class MaskedMaxPooling(keras.layers.Layer):
  """Max over time of the unmasked steps: [batch, time, features] -> [batch, features]."""

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self.supports_masking = True

  def call(self, inputs, mask=None):
    if mask is None:
      return tf.reduce_max(inputs, axis=1)
    pooled = tf.reduce_max(tf.where(mask[:, :, None], inputs, tf.fill(tf.shape(inputs), inputs.dtype.min)), axis=1)
    # A sentence with no tokens (e.g. only dropped punctuation) pools to zeros, not to float-min.
    return tf.where(tf.reduce_any(mask, axis=1, keepdims=True), pooled, tf.zeros_like(pooled))

  def compute_mask(self, inputs, mask=None):
    return None


def build_model(vocab_size: int, max_length: int, embedding_dim: int = 64, units: int = 64, layers: int = 1,
                dropout: float = 0.0, pooling: str = 'last') -> keras.Model:
  """Token ids [batch, max_length] (0 = padding) -> P(positive) [batch, 1].

  pooling: 'last' reads the Bi-LSTM's final states (the seed's model); 'max' takes the maximum of every
  feature over the sentence's steps, which keeps evidence from anywhere in long sentences.
  """
  if pooling not in ('last', 'max'):
    raise ValueError(f"pooling must be 'last' or 'max', not {pooling!r}")
  tokens = keras.Input(shape=(max_length,), name=TOKENS_KEY, dtype=tf.int64)
  x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name='embedding')(tokens)
  for i in range(layers):
    sequences = i < layers - 1 or pooling == 'max'
    x = keras.layers.Bidirectional(
        keras.layers.LSTM(units, dropout=dropout, return_sequences=sequences), name=f'bilstm_{i}')(x)
  if pooling == 'max':
    x = MaskedMaxPooling(name='max_over_time')(x)
  if dropout:
    x = keras.layers.Dropout(dropout, name='dropout')(x)
  probability = keras.layers.Dense(1, activation='sigmoid', name='probability')(x)
  return keras.Model(inputs={TOKENS_KEY: tokens}, outputs=probability, name='bilstm_sentiment')


def _serving_signatures(model: keras.Model, tft_output: tft.TFTransformOutput, config: Dict[str, Any]):
  text_column = config['text_column']
  model.tft_layer = tft_output.transform_features_layer()
  parse = common.raw_example_parser(tft_output, [text_column])

  def classify(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    transformed = model.tft_layer(raw)
    return {PROBABILITY_OUTPUT: tf.reshape(model({TOKENS_KEY: transformed[TOKENS_KEY]}), [-1])}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serving_default(serialized):
    return classify(parse(serialized))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=text_column)])
  def classify_sentences(sentences):
    return classify({text_column: tf.reshape(sentences, [-1, 1])})

  return {
      'serving_default': serving_default,
      SENTENCE_SIGNATURE: classify_sentences,
      'transform_features': common.transform_features_signature(model, tft_output, config['label_column']),
  }


def build_and_compile(setup: common.TrainingSetup, hparams: SentimentHyperparameters,
                      model_run_dir: Optional[str] = None) -> Tuple[keras.Model, List[keras.callbacks.Callback]]:
  """The Bi-LSTM for `hparams`, compiled, with the --embeddings file's vectors in its embedding rows, and the
  callbacks its fit needs (freezing those rows at first); call under the strategy's scope (run_fn and tuning
  trials)."""
  vocab_size = setup.tft_output.vocabulary_size_by_name(VOCABULARY_NAME) + setup.config['num_oov_buckets']
  model = build_model(vocab_size, setup.config['max_length'], embedding_dim=hparams.embedding_dim,
                      units=hparams.units, layers=hparams.layers, dropout=hparams.dropout, pooling=hparams.pooling)
  model.compile(optimizer=keras.optimizers.Adam(hparams.learning_rate),
                steps_per_execution=hparams.steps_per_execution,
                loss='binary_crossentropy',
                metrics=[keras.metrics.BinaryAccuracy(name='accuracy'), keras.metrics.AUC(name='auc')])
  return model, pretrained_embeddings.from_config(setup.config, model, 'embedding', setup.tft_output,
                                                  VOCABULARY_NAME, model_run_dir)


def fit(setup: common.TrainingSetup, model: keras.Model, hparams: SentimentHyperparameters,
        callbacks: List[keras.callbacks.Callback]):
  """Trains on the train split, early-stopping on eval AUC (`patience`); returns the History."""
  callbacks = list(callbacks)  # early stopping first: later callbacks' on_train_end see the restored weights
  if hparams.patience > 0:
    # On the gate's metric: eval loss keeps rising while AUC and accuracy still improve (over-confidence).
    # Counted from the first epoch that trains the embedding (--freeze-embedding-epochs).
    callbacks.insert(0, keras.callbacks.EarlyStopping(monitor='val_auc', mode='max', patience=hparams.patience,
                                                   restore_best_weights=True,
                                                   start_from_epoch=pretrained_embeddings.freeze_epochs(setup.config)))
  return model.fit(setup.train, validation_data=setup.evaluation, epochs=hparams.epochs, verbose=0,
                   callbacks=callbacks)


# TFX Trainer will call this function (on every worker of a multi-worker cluster; only the chief writes).
@common.chief_writes_outputs
def run_fn(fn_args: FnArgs) -> None:
  """Trains the Bi-LSTM on the transformed train split, early-stopping on the eval split, and exports it.

  Args:
    fn_args: TFX trainer arguments; `base_model` (the latest blessed model, when warm starting) gives the
      starting weights; `hyperparameters` (with --tune) the search's best values. `custom_config` carries
      Transform's values (`text_column`, `label_column`, `vocab_size`, `max_length`, `num_oov_buckets`),
      `pretrained_embeddings` and `hyperparameters`, every field of SentimentHyperparameters (`patience`: epochs
      without eval-AUC improvement before stopping; 0 = never).
  """
  setup = common.TrainingSetup(fn_args, LABEL_KEY, SentimentHyperparameters)
  config, hparams, tft_output, strategy = setup.config, setup.hparams, setup.tft_output, setup.strategy
  with strategy.scope():
    model, embedding_callbacks = build_and_compile(setup, hparams, fn_args.model_run_dir)
  vocabulary_axes = {'embedding/0': common.VocabularyAxis(VOCABULARY_NAME)}
  common.warm_start(model, fn_args, tft_output, vocabulary_axes)  # tokens the base model knew keep its rows
  logging.info('sentiment model on %d replica(s), global batch %d, vocabulary %d',
               strategy.num_replicas_in_sync, setup.batch_size, model.get_layer('embedding').input_dim)
  fit(setup, model, hparams, common.training_callbacks(fn_args, hparams.epochs, 'auc') + embedding_callbacks)
  # Before the export adds the Transform layers to the model's layers.
  common.save_warm_start_state(model, fn_args, tft_output, vocabulary_axes)
  common.export_model(model, fn_args.serving_model_dir, _serving_signatures(model, tft_output, config),
                      {'task': 'sentiment', 'sentence_signature': SENTENCE_SIGNATURE,
                       'text_column': config['text_column']})


# TFX Tuner will call this function (with --tune).
def tuner_fn(fn_args: FnArgs) -> tfx.components.TunerFnResult:
  """Searches the task spec's space (custom_config['tuning']) for the highest eval AUC, training each trial as
  run_fn would (without warm start)."""
  return tuning.make_tuner(fn_args, LABEL_KEY, SentimentHyperparameters, build_and_compile, fit)
