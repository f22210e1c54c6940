"""Tier 1: the Bi-LSTM builder: shapes, probabilities, and masking of [PAD]=0."""
import numpy as np

from trainer import sentiment_trainer


def test_shapes_and_probabilities():
  model = sentiment_trainer.build_model(vocab_size=20, max_length=6, embedding_dim=8, units=4, layers=2)
  tokens = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
  probabilities = model({'tokens': tokens}).numpy()
  assert probabilities.shape == (2, 1)
  assert np.all((probabilities > 0) & (probabilities < 1))


def test_padding_is_masked():
  model = sentiment_trainer.build_model(vocab_size=20, max_length=6, embedding_dim=8, units=4)
  short = model({'tokens': np.array([[3, 4, 0, 0, 0, 0]])}).numpy()
  # The same sentence with different padding lengths must give the same answer.
  model_long = sentiment_trainer.build_model(vocab_size=20, max_length=9, embedding_dim=8, units=4)
  model_long.set_weights(model.get_weights())
  long = model_long({'tokens': np.array([[3, 4, 0, 0, 0, 0, 0, 0, 0]])}).numpy()
  np.testing.assert_allclose(short, long, rtol=1e-5)


def test_max_pooling_ignores_padding():
  model = sentiment_trainer.build_model(vocab_size=20, max_length=6, embedding_dim=8, units=4, pooling='max')
  model_long = sentiment_trainer.build_model(vocab_size=20, max_length=9, embedding_dim=8, units=4, pooling='max')
  model_long.set_weights(model.get_weights())
  np.testing.assert_allclose(model({'tokens': np.array([[3, 4, 0, 0, 0, 0]])}).numpy(),
                             model_long({'tokens': np.array([[3, 4, 0, 0, 0, 0, 0, 0, 0]])}).numpy(), rtol=1e-5)


def test_max_pooling_of_a_sentence_without_tokens_is_finite():
  model = sentiment_trainer.build_model(vocab_size=20, max_length=4, embedding_dim=8, units=4, pooling='max')
  probability = model({'tokens': np.zeros((1, 4), dtype='int64')}).numpy()
  assert np.all(np.isfinite(probability)) and 0 < probability[0, 0] < 1
