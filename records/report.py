"""The review report of one run: one self-contained HTML file (styles and figures inline, nothing fetched), built
only from that run's ML Metadata record and artifacts, so it can be written again any time for any run.

Sections: header (input, timings, component states, code), data (TFDV statistics and anomalies, forecast windows),
training (per-epoch curves, hyperparameters), evaluation (TFMA metrics per slice beside the baseline, thresholds,
blessing), the task's own views, and the push.
"""
import dataclasses
import datetime
import json
import os
from typing import Dict, List, Optional

import jinja2

import components

from components.eval_predictions import read_predictions
from components.forecast_test_score import read_score
from components.windowing import read_report
from records import data_views
from records import evaluation as evaluation_records
from records import plots
from records import run_record
from records import task_views
from records import training_history
from records.run_record import RunRecord
from trainer.hyperparameters import SEARCH_SPACES

# The metric the Trainer early-stops on and the progress line shows, per task (trainer/*_trainer.py).
TRAINING_METRICS = {'forecast': ('loss', 'mae'), 'sentiment': ('loss', 'auc'), 'translate': ('loss', 'masked_accuracy')}
HEADLINE_METRICS = {'forecast': 'forecast_skill', 'sentiment': 'auc', 'translate': 'bleu'}

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader('records', 'templates'), autoescape=jinja2.select_autoescape(['html', 'j2']),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def utc(ms: int) -> str:
  return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')


def _number(value, spec: str = '.4g') -> str:
  if value is None:
    return ''
  if isinstance(value, float) and not evaluation_records.is_finite(value):
    return str(value)
  if isinstance(value, float) and value.is_integer() and spec == '.4g':  # counts: 1,578 rather than 1578
    return f'{int(value):,}'
  return format(value, spec) if isinstance(value, float) else f'{value:,}' if isinstance(value, int) else str(value)


_TEMPLATES.filters['number'] = _number


def _json_property(record: RunRecord, node: str, name: str) -> dict:
  value = record.properties.get(node, {}).get(name)
  try:
    return json.loads(value) if value else {}
  except (TypeError, ValueError):
    return {}


def component_rows(record: RunRecord) -> List[Dict[str, object]]:
  """Each node in the order it started: its state in words and how long it took."""
  words = {'COMPLETE': 'executed', 'CACHED': 'cached', 'FAILED': 'failed', 'RUNNING': 'running',
           'CANCELED': 'canceled', 'NEW': 'not started'}
  rows = []
  for node, spans in sorted(record.timings.items(), key=lambda item: min(s for s, _ in item[1])):
    states = record.execution_states.get(node, [])
    state = words.get(states[-1], states[-1].lower()) if states else 'unknown'
    rows.append({'node': node, 'state': state, 'seconds': sum(end - start for start, end in spans) / 1000})
  # Nodes that never started (after a failure) have no execution; the runner recorded the whole plan.
  rows += [{'node': node, 'state': 'not started', 'seconds': None}
           for node in record.planned_nodes if node not in record.timings]
  return rows


def _files_in_words(fingerprint_line: str) -> str:
  """ExampleGen's `split:S,num_files:N,total_bytes:B,...` as `S: N file(s), B bytes`."""
  fields = dict(part.split(':', 1) for part in fingerprint_line.split(',') if ':' in part)
  try:
    return f"{fields['split']}: {int(fields['num_files']):,} file(s), {int(fields['total_bytes']):,} bytes"
  except (KeyError, ValueError):
    return fingerprint_line


def _input_rows(record: RunRecord, example_counts: Dict[str, int]) -> Dict[str, object]:
  """Input directory and file patterns (ExampleGen's execution), files and span (its Examples artifact, which a
  cached execution shares with the run that made it), rows per split."""
  gen = record.properties.get('FileBasedExampleGen', {})
  examples = record.node_output('FileBasedExampleGen', 'examples')
  splits = [f"{s['name']}: {s['pattern']}" for s in _json_property(record, 'FileBasedExampleGen', 'input_config')
            .get('splits', [])]
  fingerprint = run_record.artifact_property(examples, 'input_fingerprint') or gen.get('input_fingerprint') or ''
  span = run_record.artifact_property(examples, 'span')
  return {'directory': gen.get('input_base', ''), 'patterns': splits,
          'files': [_files_in_words(line) for line in str(fingerprint).splitlines()],
          'span': span if span is not None else gen.get('span', ''), 'rows': example_counts}


def _code_rows(record: RunRecord) -> List[List[str]]:
  rows = []
  for node, name in (('Transform', 'custom_config'), ('Trainer', 'custom_config')):
    config = _json_property(record, node, name)
    if config.get('code'):
      entry = record.properties[node].get('preprocessing_fn') or record.properties[node].get('run_fn') or node
      rows.append([str(entry), config['code']])
  for node, props in sorted(record.properties.items()):
    if props.get('code') and node not in ('Transform', 'Trainer'):
      rows.append([node, str(props['code'])])
  pusher = _json_property(record, 'Pusher', 'custom_config').get('code')
  if pusher:
    rows.append(['Pusher', pusher])
  versions = {run_record.artifact_property(a, 'tfx_version') for artifacts in record.outputs.values() for a in artifacts}
  versions.discard(None)
  if versions:
    rows.append(['TFX', ', '.join(sorted(versions))])
  return rows


def _training(record: RunRecord, task_name: str) -> Dict[str, object]:
  config = _json_property(record, 'Trainer', 'custom_config')
  used = training_history.trained_with(record)
  # What training used: the configured values, with a search's best ones applied (--tune).
  hyperparameters = used['hyperparameters'] if used else config.get('hyperparameters', {})
  trials = training_history.tuning_trials(record)
  transform = {k: v for k, v in _json_property(record, 'Transform', 'custom_config').items() if k != 'code'}
  model_run = record.node_output('Trainer', 'model_run')
  history = training_history.read_history(model_run.uri) if model_run is not None else {}
  figures, epochs = [], 0
  for metric in TRAINING_METRICS[task_name]:
    if any(history.get(run, {}).get(metric) for run in training_history.RUNS):
      figures.append({'title': f'{metric} per epoch',
                      'uri': plots.epoch_curves(history, metric, f'{metric} (train and eval)')})
      epochs = max(epochs, len(history.get('train', {}).get(metric, [])))
  rows = []
  for run in training_history.RUNS:
    for metric, values in sorted(history.get(run, {}).items()):
      rows.append(['eval' if run == 'validation' else run, metric, [_number(v) for v in values]])
  search = None
  if trials is not None:
    space = SEARCH_SPACES[task_name]
    names = [d['name'] for d in space.dimensions]
    search = {'objective': space.objective.removeprefix('val_'),
              'better': 'lower' if space.direction == 'min' else 'higher', 'names': names,
              'rows': [[t['trial_id'], _number(t.get('score'))] + [t.get(n, '') for n in names] for t in trials]}
  return {'figures': figures, 'epochs': epochs, 'history_rows': rows, 'hyperparameters': hyperparameters,
          'tuned': (used or {}).get('tuned', []), 'search': search,
          'preprocessing': transform, 'logdir': model_run.uri if model_run is not None else ''}


def run_status(record: RunRecord) -> str:
  """'failed in <nodes>', 'running' (or killed before it ended) or 'complete'."""
  failed = record.nodes_in_state('FAILED')
  if failed:
    return f"failed in {', '.join(failed)}"
  last_states = {states[-1] for states in record.execution_states.values() if states}
  return 'running' if last_states & {'NEW', 'RUNNING'} else 'complete'


def _push(record: RunRecord) -> Dict[str, object]:
  infra, pushed = record.output('InfraBlessing'), record.node_output('Pusher', 'pushed_model')
  prop = run_record.artifact_property
  smoke = ('not run' if infra is None else 'passed' if prop(infra, 'blessed')
           else f"FAILED: {prop(infra, 'reason')}")
  version = record.pushed_version()
  if pushed is None:
    state = 'no: the run stopped before Pusher'
  elif version:
    state = 'yes'
  elif prop(pushed, 'pushed'):
    state = ('no new push: everything up to the Pusher was served from the cache; the model was pushed by an '
             'earlier run')
  else:
    state = 'no: ' + ('the serving smoke test failed' if prop(record.output('ModelBlessing'), 'blessed')
                      else 'the model was not blessed')
  was_pushed = bool(prop(pushed, 'pushed'))
  return {'state': state, 'version': (prop(pushed, 'pushed_version') or '') if was_pushed else '',
          'path': (prop(pushed, 'pushed_destination') or '') if was_pushed else '', 'smoke_test': smoke}


def build_context(record: RunRecord) -> Dict[str, object]:
  """Everything the template shows, read from the run's record and its artifacts."""
  task_name = record.task
  statistics = record.node_output('StatisticsGen', 'statistics')
  summaries = data_views.feature_summaries(statistics.uri) if statistics is not None else {}
  anomalies_artifact = record.node_output('ExampleValidator', 'anomalies')
  anomalies = data_views.anomalies(anomalies_artifact.uri) if anomalies_artifact is not None else []
  windows_artifact = record.output(components.WINDOW_REPORT)
  evaluation_artifact = record.node_output('Evaluator', 'evaluation')
  evaluation = (evaluation_records.load_evaluation(evaluation_artifact.uri)
                if evaluation_artifact is not None else None)
  blessing = record.node_output('Evaluator', 'blessing')
  blessed = run_record.artifact_property(blessing, 'blessed')
  score = record.output(components.TEST_SCORE)
  predictions_artifact = record.output(components.PREDICTIONS)
  predictions = read_predictions(predictions_artifact.uri) if predictions_artifact is not None else None
  trainer_config = _json_property(record, 'Trainer', 'custom_config')
  status = run_status(record)
  return {
      'task': task_name,
      'run_id': record.run_id,
      'status': status,
      'failed': status.startswith('failed'),
      'started': utc(record.started_ms),
      'ended': utc(record.ended_ms),
      'components': component_rows(record),
      'input': _input_rows(record, {s: v['examples'] for s, v in summaries.items()}),
      'code': _code_rows(record),
      'statistics': summaries,
      'statistics_note': ('ExampleGen splits the rows 2:1 by hash for these statistics only; the temporal '
                          'train/eval/test split is the windowing below.' if task_name == 'forecast' else ''),
      # tasks whose ExampleGen writes a train split learn the schema from it (pipeline.py); forecast from all rows
      'schema_from': ('the schema fixed for the task: a curated one, or SchemaGen\'s inference from '
                      + ('every split' if task_name == 'forecast' else 'the training split')
                      + ' in the first run whose model was blessed'),
      'trainer_ran': 'Trainer' in record.execution_states,
      'anomalies': anomalies,
      'spans_read': data_views.spans_read(record),
      'data_check': data_views.data_check(record),
      'failures': [(node, message) for node in record.nodes_in_state('FAILED') if (message := record.failure(node))],
      'warm_start': training_history.warm_start(record),
      'warm_start_in_words': training_history.warm_start_in_words,
      'pretrained_embeddings': training_history.pretrained_embeddings(record),
      'pretrained_embeddings_in_words': training_history.pretrained_embeddings_in_words,
      'windows': read_report(windows_artifact.uri) if windows_artifact is not None else None,
      'training': _training(record, task_name),
      'evaluation': evaluation,
      'slice_name': evaluation_records.slice_name,
      'headline': HEADLINE_METRICS[task_name],
      'blessed': blessed,
      'blessing': evaluation_records.blessing_in_words(
          evaluation, blessed, run_record.artifact_property(blessing, 'baseline_model_id')),
      'test_score': read_score(score.uri) if score is not None else None,
      'view': task_views.task_view(task_name, predictions, trainer_config),
      'push': _push(record),
  }


def render(template: str, context: Dict[str, object]) -> str:
  return _TEMPLATES.get_template(template).render(**context)


def write_html(html: str, output: str) -> str:
  """Writes the file whole or not at all (a temporary file renamed over the target)."""
  output = os.path.abspath(output)
  os.makedirs(os.path.dirname(output), exist_ok=True)
  temporary = f'{output}.{os.getpid()}.tmp'
  with open(temporary, 'w', encoding='utf-8') as f:
    f.write(html)
  os.replace(temporary, output)
  return output


def write_report(metadata_path: str, run_id: str, output: str) -> str:
  """Reads run `run_id` from ML Metadata and its artifacts, writes its report to `output`; returns the path."""
  record = run_record.read_run(metadata_path, run_id)
  if record is None:
    raise LookupError(f'no run {run_id!r} in {metadata_path}')
  return write_html(render('report.html.j2', build_context(record)), output)


@dataclasses.dataclass
class RunRow:
  """One line of `tfx-lstm runs`."""
  run_id: str
  task: str
  started: str
  status: str
  headline: str  # e.g. 'auc 0.8384'
  blessed: str  # 'yes', 'no' or '-' (not evaluated)
  pushed_version: str  # '' when this run pushed nothing


def run_row(record: RunRecord) -> RunRow:
  task_name = record.task
  metric = HEADLINE_METRICS.get(task_name, '')
  evaluation_artifact = record.node_output('Evaluator', 'evaluation')
  headline = ''
  if evaluation_artifact is not None:
    value = evaluation_records.sliced_metrics(evaluation_artifact.uri).get(evaluation_records.OVERALL, {}).get(metric)
    headline = f'{metric} {_number(value)}' if value is not None else ''
  blessed = run_record.artifact_property(record.node_output('Evaluator', 'blessing'), 'blessed')
  return RunRow(record.run_id, task_name, utc(record.started_ms), run_status(record).split(' in ')[0], headline,
                '-' if blessed is None else 'yes' if blessed else 'no', record.pushed_version())


def list_runs(metadata_path: str, task_name: Optional[str] = None) -> List[RunRow]:
  """Every run in the store (of one task), newest first."""
  rows = []
  for run_id in reversed(run_record.all_run_ids(metadata_path)):
    record = run_record.read_run(metadata_path, run_id)
    if record is not None and (task_name is None or record.task == task_name):
      rows.append(run_row(record))
  return rows


def _side_by_side(a: Dict[str, object], b: Dict[str, object]) -> List[Dict[str, object]]:
  return [{'name': k, 'a': a.get(k, ''), 'b': b.get(k, ''), 'differs': a.get(k) != b.get(k)}
          for k in sorted(set(a) | set(b))]


def build_comparison(first: RunRecord, second: RunRecord) -> Dict[str, object]:
  """Two runs of one task side by side: hyperparameters, data, metrics per slice and their difference."""
  runs = []
  for record in (first, second):
    statistics = record.node_output('StatisticsGen', 'statistics')
    evaluation_artifact = record.node_output('Evaluator', 'evaluation')
    windows = record.output(components.WINDOW_REPORT)
    row = run_row(record)
    inputs = _input_rows(record, {})
    data = {'input directory': inputs['directory'], 'input files': '; '.join(inputs['files'])}
    if statistics is not None:
      data.update({f'rows ({split})': f'{n:,}' for split, n in data_views.example_counts(statistics.uri).items()})
    if windows is not None:
      data.update({f'windows ({s})': f'{n:,}' for s, n in read_report(windows.uri)['windows'].items()})
    runs.append({
        'row': row,
        'hyperparameters': _json_property(record, 'Trainer', 'custom_config').get('hyperparameters', {}),
        'preprocessing': {k: v for k, v in _json_property(record, 'Transform', 'custom_config').items() if k != 'code'},
        'data': data,
        'metrics': (evaluation_records.load_evaluation(evaluation_artifact.uri).candidate
                    if evaluation_artifact is not None else {}),
    })
  a, b = runs
  slices = sorted(set(a['metrics']) | set(b['metrics']),
                  key=lambda k: (len(k), [(f, evaluation_records._sortable(v)) for f, v in k]))  # pylint: disable=protected-access
  metric_names = []
  for metrics in list(a['metrics'].values()) + list(b['metrics'].values()):
    metric_names += [n for n in metrics if n not in metric_names]
  rows = []
  for key in slices:
    for name in metric_names:
      va, vb = a['metrics'].get(key, {}).get(name), b['metrics'].get(key, {}).get(name)
      rows.append({'slice': evaluation_records.slice_name(key), 'metric': name, 'a': va, 'b': vb,
                   'difference': vb - va if va is not None and vb is not None else None})
  return {'task': a['row'].task, 'a': a['row'], 'b': b['row'],
          'hyperparameters': _side_by_side(a['hyperparameters'], b['hyperparameters']),
          'preprocessing': _side_by_side(a['preprocessing'], b['preprocessing']),
          'data': _side_by_side(a['data'], b['data']), 'metrics': rows}


def write_comparison(metadata_path: str, first_run_id: str, second_run_id: str, output: str) -> str:
  records = []
  for run_id in (first_run_id, second_run_id):
    record = run_record.read_run(metadata_path, run_id)
    if record is None:
      raise LookupError(f'no run {run_id!r} in {metadata_path}')
    records.append(record)
  if records[0].task != records[1].task:
    raise ValueError(f'{first_run_id} is a {records[0].task} run and {second_run_id} a {records[1].task} '
                     'run: compare two runs of one task')
  return write_html(render('compare.html.j2', build_comparison(*records)), output)
