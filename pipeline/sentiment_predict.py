"""`tfx-lstm predict sentiment`: raw sentences through a pushed model's sentence signature."""
from typing import Iterator, List

import tensorflow as tf

from trainer.common import read_model_metadata


def classify(model_dir: str, sentences: List[str]) -> Iterator[str]:
  """Yields 'probability  label  sentence' per sentence."""
  meta = read_model_metadata(model_dir)
  signature = tf.saved_model.load(model_dir).signatures[meta['sentence_signature']]
  probabilities = signature(**{meta['text_column']: tf.constant(sentences)})['probability'].numpy()
  for sentence, probability in zip(sentences, probabilities):
    yield f'{probability:.3f}  {"positive" if probability >= 0.5 else "negative"}  {sentence}'
