"""An Evaluator artifact read back with TFMA's own loaders: metrics per slice for the candidate and the baseline (the
latest blessed model) with their difference, every threshold with pass or fail, and the blessing in words."""
import dataclasses
import math
from typing import Dict, List, Optional, Tuple

import tensorflow_model_analysis as tfma

SliceKey = Tuple[Tuple[str, object], ...]  # () = overall, else ((feature, value),)
OVERALL: SliceKey = ()
DIFF_SUFFIX = '_diff'


def slice_name(key: SliceKey) -> str:
  return 'overall' if not key else ', '.join(f'{feature} = {value}' for feature, value in key)


def _metric_values(result) -> Dict[SliceKey, Dict[str, float]]:
  """Slice key -> metric name -> value for one model of an EvalResult (single output, no sub keys)."""
  sliced = {}
  for key, metrics in result.slicing_metrics:
    values = {}
    for per_sub_key in metrics.get('', {}).values():
      for name, value in per_sub_key.items():
        if isinstance(value, dict) and 'doubleValue' in value:
          values[name] = value['doubleValue']
    sliced[tuple(key)] = values
  return sliced


def sliced_metrics(evaluation_uri: str) -> Dict[SliceKey, Dict[str, float]]:
  """The candidate's metrics per slice (with `<name>_diff` entries when there was a baseline)."""
  return _metric_values(tfma.load_eval_result(evaluation_uri))


@dataclasses.dataclass
class Threshold:
  metric: str
  slice: str
  kind: str  # 'value' or 'change'
  bound: str  # what the threshold asks for, in words
  value: Optional[float]  # the checked value: the metric, or its difference from the baseline
  outcome: str  # 'pass', 'FAIL' or 'not checked'


@dataclasses.dataclass
class Evaluation:
  candidate: Dict[SliceKey, Dict[str, float]]  # metric names without the _diff entries
  baseline: Dict[SliceKey, Dict[str, float]]  # empty without a baseline
  difference: Dict[SliceKey, Dict[str, float]]  # candidate - baseline, as TFMA computed it
  thresholds: List[Threshold]
  validation_ok: bool
  failures: List[str]  # each failed threshold in words

  @property
  def metric_names(self) -> List[str]:
    names = []
    for values in self.candidate.values():
      names += [n for n in values if n not in names]
    return names

  @property
  def slices(self) -> List[SliceKey]:
    """Overall first, then each slicing feature's values in order."""
    return sorted(self.candidate, key=lambda k: (len(k), [(f, _sortable(v)) for f, v in k]))


def _sortable(value):
  return (0, value, '') if isinstance(value, (int, float)) else (1, 0, str(value))


def _bound_in_words(threshold) -> str:
  if isinstance(threshold, tfma.GenericValueThreshold):
    parts = []
    if threshold.HasField('lower_bound'):
      parts.append(f'>= {threshold.lower_bound.value:.6g}')
    if threshold.HasField('upper_bound'):
      parts.append(f'<= {threshold.upper_bound.value:.6g}')
    return ' and '.join(parts)
  allowed = threshold.absolute.value
  if threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER:  # the difference must be <= allowed
    return f'at most {allowed:.6g} above the baseline' if allowed >= 0 else f'at least {-allowed:.6g} below the baseline'
  # HIGHER_IS_BETTER: the difference must be >= allowed
  return f'at most {-allowed:.6g} below the baseline' if allowed <= 0 else f'at least {allowed:.6g} above the baseline'


def _failure_in_words(failure) -> str:
  threshold = failure.metric_threshold
  value = failure.metric_value.double_value.value
  if threshold.HasField('value_threshold'):
    return (f'{failure.metric_key.name} = {value:.4g}, needs {_bound_in_words(threshold.value_threshold)}'
            + _missed_by(value, threshold.value_threshold))
  if threshold.HasField('change_threshold'):
    allowed = threshold.change_threshold.absolute.value
    missed = (value - allowed if threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
              else allowed - value)
    return (f'{failure.metric_key.name} changed by {value:+.4g} vs the blessed baseline, allowed '
            f'{allowed:+.4g}' + (f' (missed by {missed:.4g})' if missed > 0 else ''))
  return f'{failure.metric_key.name}: {failure.message}'


def _missed_by(value: float, threshold) -> str:
  """How far a value is outside a value threshold's bounds, as ' (missed by X)'; '' when that is not a number."""
  misses = []
  if threshold.HasField('lower_bound'):
    misses.append(threshold.lower_bound.value - value)
  if threshold.HasField('upper_bound'):
    misses.append(value - threshold.upper_bound.value)
  missed = max(misses, default=0.0)
  return f' (missed by {missed:.4g})' if missed > 0 and missed != float('inf') else ''


def _failures_in_words(validation) -> List[str]:
  return [_failure_in_words(f) for per_slice in validation.metric_validations_per_slice for f in per_slice.failures]


def validation_failures(evaluation_uri: str) -> Tuple[bool, List[str]]:
  result = tfma.load_validation_result(evaluation_uri)
  return result.validation_ok, _failures_in_words(result)


def _slice_key_of_spec(spec) -> str:
  if spec is None or not (spec.feature_keys or spec.feature_values):
    return 'overall'
  return ', '.join(list(spec.feature_keys) + [f'{k} = {v}' for k, v in spec.feature_values.items()])


def _slice_name_of_key(slice_key) -> str:
  """A validation result's SliceKey proto, named like `_slice_key_of_spec` names the spec that selects it."""
  parts = [f'{k.column}' for k in slice_key.single_slice_keys]
  return ', '.join(parts) if parts else 'overall'


def load_evaluation(evaluation_uri: str) -> Evaluation:
  """The Evaluator's output directory, read with `tfma.load_eval_result` / `tfma.load_validation_result`."""
  first = tfma.load_eval_result(evaluation_uri)
  config = first.config
  baseline_specs = [s for s in config.model_specs if s.is_baseline]
  candidate_specs = [s for s in config.model_specs if not s.is_baseline]
  candidate_result = (tfma.load_eval_result(evaluation_uri, model_name=candidate_specs[0].name)
                      if baseline_specs else first)
  candidate_all = _metric_values(candidate_result)
  candidate = {k: {n: v for n, v in values.items() if not n.endswith(DIFF_SUFFIX)} for k, values in candidate_all.items()}
  difference = {k: {n[:-len(DIFF_SUFFIX)]: v for n, v in values.items() if n.endswith(DIFF_SUFFIX)}
                for k, values in candidate_all.items()}
  baseline = (_metric_values(tfma.load_eval_result(evaluation_uri, model_name=baseline_specs[0].name))
              if baseline_specs else {})

  validation = tfma.load_validation_result(evaluation_uri)
  # A failure belongs to a metric (or its difference) on one slice; thresholds here are on whole slices.
  failed = {(f.metric_key.name, f.metric_key.is_diff, _slice_name_of_key(per_slice.slice_key))
            for per_slice in validation.metric_validations_per_slice for f in per_slice.failures}
  thresholds = []
  for key, specs_and_thresholds in tfma.metrics.metric_thresholds_from_metrics_specs(
      config.metrics_specs, config).items():
    if baseline_specs and key.model_name not in ('', candidate_specs[0].name):
      continue
    for slice_spec, threshold in specs_and_thresholds:
      is_change = isinstance(threshold, tfma.GenericChangeThreshold)
      values = difference if is_change else candidate
      value = values.get(OVERALL, {}).get(key.name) if _slice_key_of_spec(slice_spec) == 'overall' else None
      if is_change and not baseline_specs:
        outcome = 'not checked'  # TFMA compares with a baseline only when there is one
      else:
        outcome = 'FAIL' if (key.name, bool(key.is_diff), _slice_key_of_spec(slice_spec)) in failed else 'pass'
      thresholds.append(Threshold(key.name, _slice_key_of_spec(slice_spec), 'change' if is_change else 'value',
                                  _bound_in_words(threshold), value, outcome))
  thresholds.sort(key=lambda t: (t.metric, t.kind))
  return Evaluation(candidate, baseline, difference, thresholds, validation.validation_ok,
                    _failures_in_words(validation))


def blessing_in_words(evaluation: Optional[Evaluation], blessed: Optional[int], baseline_model_id) -> str:
  """Why the model was (not) blessed, from the Evaluator's validation result."""
  if evaluation is None or blessed is None:
    return 'not decided: the run stopped before the Evaluator finished.'
  against = (f'compared with the latest blessed model (model artifact {baseline_model_id})' if baseline_model_id
             else 'there was no earlier blessed model, so only the absolute thresholds applied')
  if blessed:
    checked = [t for t in evaluation.thresholds if t.outcome == 'pass']
    return f'blessed: all {len(checked)} checked threshold(s) passed; {against}.'
  return f'not blessed: {"; ".join(evaluation.failures) or "the validation failed"}; {against}.'


def is_finite(value) -> bool:
  return isinstance(value, (int, float)) and not math.isnan(value) and not math.isinf(value)
