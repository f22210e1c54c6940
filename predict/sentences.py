"""`tfx-lstm predict sentiment|translate`: raw sentences through a pushed model's sentence signature."""
from typing import Dict, Iterator, List

import numpy as np
import tensorflow as tf

from trainer.common import read_model_metadata


def _sentence_signature(model_dir: str, sentences: List[str], input_key: str) -> Dict[str, np.ndarray]:
  """Calls the signature the model's metadata names, with the sentences as its `input_key` argument."""
  meta = read_model_metadata(model_dir)
  signature = tf.saved_model.load(model_dir).signatures[meta['sentence_signature']]
  return {k: v.numpy() for k, v in signature(**{meta[input_key]: tf.constant(sentences)}).items()}


def classify(model_dir: str, sentences: List[str]) -> Iterator[str]:
  """Yields 'probability  label  sentence' per sentence."""
  probabilities = _sentence_signature(model_dir, sentences, 'text_column')['probability']
  for sentence, probability in zip(sentences, probabilities):
    yield f'{probability:.3f}  {"positive" if probability >= 0.5 else "negative"}  {sentence}'


def translate(model_dir: str, sentences: List[str]) -> Iterator[str]:
  """Yields 'source  =>  translation' per sentence."""
  translations = _sentence_signature(model_dir, sentences, 'source_column')['translation']
  for sentence, translation in zip(sentences, translations):
    yield f'{sentence}  =>  {translation.decode("utf-8")}'
