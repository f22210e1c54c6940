"""The end-of-run summary of one run, read from ML Metadata by run id: components, windows, metrics against the
baselines, blessing, push, the held-out test score and where the TensorBoard logs are."""
import math
from typing import Dict, List, Optional, Tuple

import components
from components.forecast_test_score import read_score
from components.windowing import read_report
from records import data_views
from records import run_record
from records import training_history
from records.evaluation import sliced_metrics
from records.evaluation import validation_failures
from records.run_record import RunRecord
from trainer.hyperparameters import SEARCH_SPACES
from preprocessing.translate_transform import SOURCE_LENGTH_BUCKET_BOUNDARIES
from preprocessing.translate_transform import SOURCE_LENGTH_BUCKET_KEY


def _by_feature(sliced, feature: str) -> List[Tuple[object, Dict[str, float]]]:
  return sorted((key[0][1], values) for key, values in sliced.items() if len(key) == 1 and key[0][0] == feature)


def _forecast_lines(sliced) -> List[str]:
  metrics = sliced.get((), {})
  lines = [f"  eval        MAE {_fmt(metrics.get('mae'))}  RMSE {_fmt(metrics.get('rmse'))}  "
           f"(persistence MAE {_fmt(metrics.get('persistence_mae'))}  RMSE {_fmt(metrics.get('persistence_rmse'))}; "
           f"skill {_fmt(metrics.get('forecast_skill'), '+.1%')}) on {int(metrics.get('example_count', 0)):,} windows"]
  months = _by_feature(sliced, 'target_month')
  if months:
    lines.append('  by month    ' + '  '.join(
        f"{month}: skill {_fmt(values.get('forecast_skill'), '+.1%')}" for month, values in months))
  return lines


def _sentiment_lines(sliced) -> List[str]:
  metrics = sliced.get((), {})
  lines = [f"  eval        AUC {_fmt(metrics.get('auc'))}  accuracy {_fmt(metrics.get('binary_accuracy'))} "
           f"on {int(metrics.get('example_count', 0)):,} sentences"]
  buckets = _by_feature(sliced, 'length_bucket')
  if buckets:
    names = {0: '<=5', 1: '6-10', 2: '11-20', 3: '21-30', 4: '>30'}
    lines.append('  by length   ' + '  '.join(
        f"{names.get(int(b), b)} tokens: acc {_fmt(v.get('binary_accuracy'))} (n={int(v.get('example_count', 0))})"
        for b, v in buckets))
  return lines


def _translate_lines(sliced) -> List[str]:
  metrics = sliced.get((), {})
  lines = [f"  eval        BLEU {_fmt(metrics.get('bleu'), '.2f')} (corpus, case-insensitive) "
           f"on {int(metrics.get('example_count', 0)):,} sentence pairs"]
  buckets = _by_feature(sliced, SOURCE_LENGTH_BUCKET_KEY)
  if buckets:
    bounds = SOURCE_LENGTH_BUCKET_BOUNDARIES
    names = {i: f'{bounds[i - 1] + 1 if i else 1}-{bound}' for i, bound in enumerate(bounds)}
    names[len(bounds)] = f'>{bounds[-1]}'
    lines.append('  by length   ' + '  '.join(
        f"{names.get(int(b), b)} tokens: BLEU {_fmt(v.get('bleu'), '.2f')} (n={int(v.get('example_count', 0))})"
        for b, v in buckets))
  return lines


_METRIC_LINES = {'forecast': _forecast_lines, 'sentiment': _sentiment_lines, 'translate': _translate_lines}


def _number(value) -> Optional[float]:
  """A metric as a float, or None: metrics written as text ('inf', 'NaN' from JSON) or missing must not end the
  summary in a traceback."""
  try:
    number = float(value)
  except (TypeError, ValueError):
    return None
  return None if math.isnan(number) else number


def _fmt(value, spec: str = '.3f') -> str:
  number = _number(value)
  return 'n/a' if number is None else format(number, spec)


def _count(value) -> str:
  number = _number(value)
  return 'n/a' if number is None or math.isinf(number) else f'{int(number):,}'


def _tuning_lines(task_name: str, run: RunRecord) -> List[str]:
  """The search's trials, best first, and whether the Trainer used the best one's values."""
  trials = training_history.tuning_trials(run)
  if trials is None:
    return []
  space = SEARCH_SPACES[task_name]
  better = 'lower' if space.direction == 'min' else 'higher'
  lines = [f'  tuning      {len(trials)} trial(s) finished, best first (eval {space.objective.removeprefix("val_")}, '
           f'{better} is better)']
  used = training_history.trained_with(run)
  for i, trial in enumerate(trials):
    mark = ''
    if i == 0 and used is not None:
      values = {k: v for k, v in trial.items() if k not in ('trial_id', 'score')}
      same = all(used['hyperparameters'].get(k) == v for k, v in values.items())
      mark = '  <- the Trainer used these' if same else '  (the Trainer used other values)'
    lines.append(f"    trial {trial['trial_id']}  {_fmt(trial.get('score'), '.4f')}  "
                 f'{training_history.trial_values_in_words(trial)}{mark}')
  return lines


def print_summary(task_name: str, run: RunRecord) -> None:
  """Prints the summary of one run (`run_record.read_run`)."""
  executed, cached = run.nodes_in_state('COMPLETE'), run.nodes_in_state('CACHED')
  print(f'summary of run {run.run_id}')
  print(f'  components  {len(executed)} executed, {len(cached)} from cache')
  failed = run.nodes_in_state('FAILED')
  if failed:
    print(f"  failed      {', '.join(failed)} (see the run's log)")
    for node in failed:
      for line in run.failure(node).splitlines():
        print(f'              {line}')
  spans = data_views.spans_read(run)
  if spans:
    print(f'  data        {spans}')
  check = data_views.data_check(run)
  if check is not None:
    print(f'  data check  {data_views.data_check_in_words(check)}')
  plans = training_history.datasets(run)
  if plans is not None:
    print(f'  input       {training_history.datasets_in_words(plans)}')
  warm = training_history.warm_start(run)
  if warm is not None:
    print(f'  warm start  {training_history.warm_start_in_words(warm)}')
  vectors = training_history.pretrained_embeddings(run)
  if vectors is not None:
    print(f'  embeddings  {training_history.pretrained_embeddings_in_words(vectors, warm)}')
  for line in _tuning_lines(task_name, run):
    print(line)

  report_artifact = run.output(components.WINDOW_REPORT)
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
    for line in _METRIC_LINES[task_name](sliced_metrics(evaluation.uri)):
      print(line)
    ok, failures = validation_failures(evaluation.uri)
    blessing = run.output('ModelBlessing')
    baseline = run_record.artifact_property(blessing, 'baseline_model_id')
    against = f'against blessed model {baseline}' if baseline else 'no earlier blessed model to compare with'
    print(f"  blessed     {'yes' if ok else 'NO'} ({against})" + ('' if ok else ': ' + '; '.join(failures)))

  score = run.output(components.TEST_SCORE)
  if score is not None:
    test = read_score(score.uri)
    print(f"  test        MAE {_fmt(test['mae'])}  RMSE {_fmt(test['rmse'])}  (persistence MAE "
          f"{_fmt(test['persistence_mae'])}  RMSE {_fmt(test['persistence_rmse'])}; skill {_fmt(test['forecast_skill'], '+.1%')}) "
          f"on {_count(test['windows'])} windows, scored after the push decision")

  infra = run.output('InfraBlessing')
  if infra is not None and not run_record.artifact_property(infra, 'blessed'):
    print(f"  smoke test  FAILED: {run_record.artifact_property(infra, 'reason')}")
  pushed = run.output('PushedModel')
  if pushed is None:
    print('  pushed      no (the run stopped before Pusher)')
  elif run.pushed_version():
    print(f"  pushed      {run_record.artifact_property(pushed, 'pushed_destination')}")
  elif run_record.artifact_property(pushed, 'pushed'):
    print(f"  pushed      nothing new (served from the cache: "
          f"{run_record.artifact_property(pushed, 'pushed_destination')} was pushed by an earlier run)")
  else:
    blessed = run_record.artifact_property(run.output('ModelBlessing'), 'blessed')
    print('  pushed      no (' + ('serving smoke test failed' if blessed else 'model not blessed') + ')')
  model_run = run.output('ModelRun')
  if model_run is not None:
    print(f'  tensorboard tensorboard --logdir {model_run.uri}')
