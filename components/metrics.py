"""TFMA metrics registered by the project (the Evaluator loads them by module and class name).

CorpusBleu: corpus BLEU (sacrebleu, 0-100) of string predictions against string labels, as a float that TFMA
thresholds can compare (docs/design.md §9: TFMA's own Bleu fails on byte strings and returns an object).

ForecastMetric computes one of: the model's MAE or RMSE, the persistence forecast's MAE or RMSE on the same
windows (read from the `persistence_forecast` feature of each window example), or the skill score
1 - MAE / MAE_persistence that the pipeline gates on (> 0 means the model beats "next = last").
One metric per MetricConfig, so TFMA thresholds can be attached to each
(`MetricConfig(class_name='ForecastMetric', config='{"metric": "forecast_skill"}')`).
"""
import dataclasses
import json
from typing import Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.proto import config_pb2

MAE = 'mae'
RMSE = 'rmse'
PERSISTENCE_MAE = 'persistence_mae'
PERSISTENCE_RMSE = 'persistence_rmse'
FORECAST_SKILL = 'forecast_skill'
FORECAST_METRIC_NAMES = (MAE, RMSE, PERSISTENCE_MAE, PERSISTENCE_RMSE, FORECAST_SKILL)


class ForecastMetric(metric_types.Metric):
  """One of FORECAST_METRIC_NAMES for a point forecast, named after it unless `name` is given."""

  def __init__(self, metric: str = FORECAST_SKILL, persistence_key: str = 'persistence_forecast',
               name: Optional[str] = None):
    if metric not in FORECAST_METRIC_NAMES:
      raise ValueError(f'metric must be one of {FORECAST_METRIC_NAMES}, not {metric!r}')
    super().__init__(_forecast_computations, metric=metric, persistence_key=persistence_key, name=name or metric)


def _forecast_computations(
    metric: str,
    persistence_key: str,
    name: Optional[str] = None,
    eval_config: Optional[config_pb2.EvalConfig] = None,
    model_names: Optional[List[str]] = None,
    output_names: Optional[List[str]] = None,
    example_weighted: bool = False,
    **unused_kwargs) -> metric_types.MetricComputations:
  return _per_model_and_output(
      name or metric, model_names, output_names, example_weighted,
      [metric_types.FeaturePreprocessor(feature_keys=[persistence_key])],
      lambda key, model_name, output_name: _ForecastCombiner(
          metric, key, eval_config, model_name, output_name, persistence_key, example_weighted))


def _per_model_and_output(name: str, model_names, output_names, example_weighted: bool, preprocessors,
                          make_combiner) -> metric_types.MetricComputations:
  """One computation per (model, output): the candidate and the baseline get their own metric keys."""
  computations = []
  for model_name in model_names or ['']:
    for output_name in output_names or ['']:
      key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                   example_weighted=example_weighted)
      computations.append(metric_types.MetricComputation(
          keys=[key], preprocessors=preprocessors, combiner=make_combiner(key, model_name, output_name)))
  return computations


@dataclasses.dataclass
class ForecastSums:
  """Weighted error sums of a forecaster and of persistence; `forecast_values` turns them into the metrics."""
  weight: float = 0.0
  abs_error: float = 0.0
  sq_error: float = 0.0
  persistence_abs_error: float = 0.0
  persistence_sq_error: float = 0.0


class _ForecastCombiner(beam.CombineFn):

  def __init__(self, metric: str, key: metric_types.MetricKey, eval_config, model_name: str,
               output_name: str, persistence_key: str, example_weighted: bool):
    self._metric = metric
    self._key = key
    self._eval_config = eval_config
    self._model_name = model_name
    self._output_name = output_name
    self._persistence_key = persistence_key
    self._example_weighted = example_weighted

  def create_accumulator(self) -> ForecastSums:
    return ForecastSums()

  def add_input(self, sums: ForecastSums, element: metric_types.StandardMetricInputs) -> ForecastSums:
    persistence = metric_util.safe_to_scalar(element.features[self._persistence_key])
    for label, prediction, weight in metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=self._model_name,
        output_name=self._output_name, example_weighted=self._example_weighted):
      label = metric_util.safe_to_scalar(label)
      weight = metric_util.safe_to_scalar(weight)
      error = metric_util.safe_to_scalar(prediction) - label
      sums.weight += weight
      sums.abs_error += weight * abs(error)
      sums.sq_error += weight * error * error
      sums.persistence_abs_error += weight * abs(persistence - label)
      sums.persistence_sq_error += weight * (persistence - label) ** 2
    return sums

  def merge_accumulators(self, accumulators: Iterable[ForecastSums]) -> ForecastSums:
    total = ForecastSums()
    for sums in accumulators:
      for field in dataclasses.fields(ForecastSums):
        setattr(total, field.name, getattr(total, field.name) + getattr(sums, field.name))
    return total

  def extract_output(self, sums: ForecastSums) -> Dict[metric_types.MetricKey, float]:
    return {self._key: forecast_values(sums)[self._metric]}


def forecast_values(sums: ForecastSums) -> Dict[str, float]:
  """MAE, RMSE, persistence MAE/RMSE and skill = 1 - MAE / persistence MAE (nan without examples)."""
  if not sums.weight:
    return {name: float('nan') for name in FORECAST_METRIC_NAMES}
  mae = sums.abs_error / sums.weight
  persistence_mae = sums.persistence_abs_error / sums.weight
  return {
      MAE: float(mae),
      RMSE: float(np.sqrt(sums.sq_error / sums.weight)),
      PERSISTENCE_MAE: float(persistence_mae),
      PERSISTENCE_RMSE: float(np.sqrt(sums.persistence_sq_error / sums.weight)),
      FORECAST_SKILL: float(1.0 - mae / persistence_mae) if persistence_mae else float('nan'),
  }


metric_types.register_metric(ForecastMetric)


class CorpusBleu(metric_types.Metric):
  """Corpus BLEU of the model's strings (prediction) against the reference strings (label).

  Case-insensitive by default, since the project's text models see lower-cased text. Each example adds its
  n-gram statistics to the accumulator, so slices and Beam workers merge exactly like one corpus_bleu call.
  """

  def __init__(self, lowercase: bool = True, name: str = 'bleu'):
    super().__init__(_bleu_computations, lowercase=lowercase, name=name)


def _bleu_computations(lowercase: bool, name: str = 'bleu', eval_config: Optional[config_pb2.EvalConfig] = None,
                       model_names: Optional[List[str]] = None, output_names: Optional[List[str]] = None,
                       **unused_kwargs) -> metric_types.MetricComputations:
  return _per_model_and_output(
      name, model_names, output_names, False, None,
      lambda key, model_name, output_name: _BleuCombiner(key, eval_config, model_name, output_name, lowercase))


def _as_text(value) -> str:
  value = np.asarray(value).reshape(-1)
  value = value[0] if value.size else ''
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


class _BleuCombiner(beam.CombineFn):
  """Accumulates [hypothesis length, reference length, matches per order 1-4, totals per order 1-4]."""

  def __init__(self, key: metric_types.MetricKey, eval_config, model_name: str, output_name: str,
               lowercase: bool):
    self._key = key
    self._eval_config = eval_config
    self._model_name = model_name
    self._output_name = output_name
    self._lowercase = lowercase
    self._bleu = None

  def setup(self):
    import sacrebleu  # pylint: disable=g-import-not-at-top
    self._bleu = sacrebleu.BLEU(lowercase=self._lowercase)

  def create_accumulator(self) -> np.ndarray:
    return np.zeros(10, dtype=np.int64)

  def add_input(self, sums: np.ndarray, element: metric_types.StandardMetricInputs) -> np.ndarray:
    if self._bleu is None:
      self.setup()
    for label, prediction, _ in metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=self._model_name, output_name=self._output_name,
        flatten=False, squeeze=False, allow_none=True):
      score = self._bleu.corpus_score([_as_text(prediction)], [[_as_text(label)]])
      sums += np.array([score.sys_len, score.ref_len, *score.counts, *score.totals], dtype=np.int64)
    return sums

  def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
    return np.sum(list(accumulators), axis=0)

  def extract_output(self, sums: np.ndarray) -> Dict[metric_types.MetricKey, float]:
    import sacrebleu  # pylint: disable=g-import-not-at-top
    if not sums[1]:
      return {self._key: float('nan')}
    score = sacrebleu.BLEU.compute_bleu(correct=list(sums[2:6]), total=list(sums[6:10]), sys_len=int(sums[0]),
                                        ref_len=int(sums[1]), smooth_method='exp')
    return {self._key: float(score.score)}


metric_types.register_metric(CorpusBleu)


def bleu_metric_config(**kwargs):
  """A tfma.MetricConfig for CorpusBleu; kwargs are MetricConfig fields (e.g. thresholds)."""
  return config_pb2.MetricConfig(class_name=CorpusBleu.__name__, module=__name__, **kwargs)


def forecast_metric_config(metric: str, **kwargs):
  """A tfma.MetricConfig for ForecastMetric `metric`; kwargs are MetricConfig fields (e.g. thresholds)."""
  return config_pb2.MetricConfig(class_name=ForecastMetric.__name__, module=__name__,
                                  config=json.dumps({'metric': metric}), **kwargs)
