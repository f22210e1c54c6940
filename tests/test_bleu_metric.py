"""Tier 1: the project's TFMA BLEU metric: byte-string inputs, equal to one sacrebleu corpus_bleu call however
the examples are split across accumulators, and a float value."""
import numpy as np
import sacrebleu
from tensorflow_model_analysis.metrics import metric_types

from components import metrics

PAIRS = [  # (reference, hypothesis)
    ('Je suis affamé.', "j'ai faim."),
    ('Il fait froid.', 'il fait froid.'),
    ('Nous sommes partis tôt ce matin.', 'nous sommes partis ce matin.'),
    ('Va !', ''),
]


def _combine(pairs):
  combiner = metrics.CorpusBleu().computations(example_weighted=False)[0].combiner
  combiner.setup()
  accumulator = combiner.create_accumulator()
  for reference, hypothesis in pairs:
    accumulator = combiner.add_input(accumulator, metric_types.StandardMetricInputs(
        labels=np.array([reference.encode()]), predictions=np.array([hypothesis.encode()]),
        example_weights=np.array([1.0])))
  return combiner, accumulator


def test_bleu_equals_sacrebleu_corpus_bleu_case_insensitive():
  combiner, accumulator = _combine(PAIRS)
  (value,) = combiner.extract_output(accumulator).values()
  expected = sacrebleu.corpus_bleu([h for _, h in PAIRS], [[r for r, _ in PAIRS]], lowercase=True).score
  assert isinstance(value, float) and 20 < value < 90
  assert value == expected


def test_merged_accumulators_give_the_corpus_value():
  combiner, first = _combine(PAIRS[:2])
  _, second = _combine(PAIRS[2:])
  _, whole = _combine(PAIRS)
  np.testing.assert_array_equal(combiner.merge_accumulators([first, second]), whole)


def test_no_examples_is_nan():
  combiner, accumulator = _combine([])
  assert np.isnan(list(combiner.extract_output(accumulator).values())[0])
