"""The end-of-run summary: windows, metrics against the persistence baseline, blessing, push."""
import math
import os
from typing import Dict, Optional

import tensorflow_model_analysis as tfma

from components.windowing import read_report
from pipeline import run_summary
from pipeline.local_runner import RunPaths


def overall_metrics(evaluation_uri: str, model_name: str = '') -> Dict[str, float]:
  """Metric name -> value on the overall slice of a ModelEvaluation artifact (the candidate model)."""
  result = tfma.load_eval_result(evaluation_uri, model_name=model_name or None)
  for slice_key, metrics in result.slicing_metrics:
    if slice_key == ():
      values = {}
      for per_sub_key in metrics.get('', {}).values():
        for name, value in per_sub_key.items():
          if isinstance(value, dict) and 'doubleValue' in value:
            values[name] = value['doubleValue']
      return values
  return {}


def validation_failures(evaluation_uri: str):
  result = tfma.load_validation_result(evaluation_uri)
  failures = []
  for per_slice in result.metric_validations_per_slice:
    for failure in per_slice.failures:
      threshold = failure.metric_threshold
      if threshold.HasField('value_threshold'):
        bound = threshold.value_threshold
        need = (f'>= {bound.lower_bound.value:.4g}' if bound.HasField('lower_bound')
                else f'<= {bound.upper_bound.value:.4g}')
        failures.append(f'{failure.metric_key.name} = {failure.metric_value.double_value.value:.4g}, needs {need}')
      elif threshold.HasField('change_threshold'):
        failures.append(f'{failure.metric_key.name} changed by {failure.metric_value.double_value.value:+.4g} '
                        f'vs the blessed baseline, allowed {threshold.change_threshold.absolute.value:+.4g}')
      else:
        failures.append(f'{failure.metric_key.name}: {failure.message}')
  return result.validation_ok, failures


def _fmt(value: Optional[float]) -> str:
  return 'n/a' if value is None or (isinstance(value, float) and math.isnan(value)) else f'{value:.3f}'


def print_summary(task_name: str, paths: RunPaths, pipeline_name: str) -> None:
  run = run_summary.latest_run(paths.metadata_path, pipeline_name)
  executed = sorted(n for n, s in run.execution_states.items() if 'COMPLETE' in s)
  cached = sorted(n for n, s in run.execution_states.items() if 'CACHED' in s)
  print('summary')
  print(f'  components  {len(executed)} executed, {len(cached)} from cache')

  report_artifact = run.output('TfxLstmWindowReport')
  if report_artifact is not None:
    report = read_report(report_artifact.uri)
    windows = report['windows']
    print(f"  windows     train {windows['train']:,}  eval {windows['eval']:,}  test {windows['test']:,}  "
          f"(from {report['rows']:,} rows in {report['series']} series; eval from {report['boundaries']['eval_start']}, "
          f"test from {report['boundaries']['test_start']})")
    print(f"  dropped     {report['dropped_incomplete']:,} windows with missing values, "
          f"{report['dropped_straddling']:,} across split boundaries")
    if report['gap_count']:
      shown = ', '.join(f"{g['after']} -> {g['before']}" + (f" ({g['series']})" if g['series'] else '')
                        for g in report['gaps'][:5])
      more = f' and {report["gap_count"] - 5} more' if report['gap_count'] > 5 else ''
      print(f"  gaps        {report['gap_count']} (windows spanning them dropped): {shown}{more}")
    else:
      print('  gaps        none')

  evaluation = run.output('ModelEvaluation')
  if evaluation is not None:
    metrics = overall_metrics(evaluation.uri)
    if 'forecast_skill' in metrics:
      print(f"  eval        MAE {_fmt(metrics.get('mae'))}  RMSE {_fmt(metrics.get('rmse'))}  "
            f"(persistence MAE {_fmt(metrics.get('persistence_mae'))}  RMSE {_fmt(metrics.get('persistence_rmse'))}; "
            f"skill {metrics['forecast_skill']:+.1%}) on {int(metrics.get('example_count', 0)):,} windows")
    ok, failures = validation_failures(evaluation.uri)
    blessing = run.output('ModelBlessing')
    baseline = run_summary.artifact_property(blessing, 'baseline_model_id')
    against = f'against blessed model {baseline}' if baseline else 'no earlier blessed model to compare with'
    print(f"  blessed     {'yes' if ok else 'NO'} ({against})" + ('' if ok else ': ' + '; '.join(failures)))

  infra = run.output('InfraBlessing')
  if infra is not None and not run_summary.artifact_property(infra, 'blessed'):
    print(f"  smoke test  FAILED: {run_summary.artifact_property(infra, 'reason')}")
  pushed = run.output('PushedModel')
  if run_summary.artifact_property(pushed, 'pushed'):
    print(f"  pushed      {run_summary.artifact_property(pushed, 'pushed_destination')}")
  else:
    print('  pushed      no (model not blessed)')
