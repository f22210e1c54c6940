"""Tier 3: the forecast pipeline end to end with LocalDagRunner on a slice of the bundled data.

One run root is shared by the tests in order: a first run (every component executes, the model is blessed
and pushed), an unchanged re-run (everything cached), a run whose gate cannot pass (not blessed, nothing
new pushed). The data has a deliberate 5-hour gap.
"""
import csv
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import BUNDLED_FORECAST_CSV, REPO, read_run_of, run_cli
from report_checks import assert_opens_cleanly_offline, assert_report_matches_tfma, report_values
import components
from records import run_record

pytestmark = pytest.mark.e2e

ROWS = 1800  # 75 days of hourly rows
GAP_ROWS = range(500, 505)  # 2013-01-21 20:00 to 2013-01-22 00:00 left out
PIPELINE = 'tfx-lstm-forecast'
NODES = {'FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataCheck', 'TimeSeriesWindowGen', 'Transform',
         'Trainer', 'Evaluator', 'ServingSmokeTest', 'Pusher', 'ForecastTestScore', 'EvalPredictions'}
FAST = ['--epochs', '1', '--units', '16', '--replicas', '2']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('forecast_data')
  with open(BUNDLED_FORECAST_CSV) as src, open(directory / 'part-0.csv', 'w', newline='') as dst:
    reader, writer = csv.reader(src), csv.writer(dst)
    # The header fully quoted, as R's write.csv and many exports write it (RFC 4180).
    dst.write(','.join(f'"{name}"' for name in next(reader)) + '\r\n')
    for i, row in enumerate(reader):
      if i >= ROWS:
        break
      if i not in GAP_ROWS:
        writer.writerow(row)
  return str(directory)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
  return str(tmp_path_factory.mktemp('forecast_root'))


@pytest.fixture(scope='module')
def first_run(data_dir, root):
  # --min-skill -1: on 75 days and one epoch the model may not beat persistence; this run tests the
  # mechanics of blessing and pushing, test_gate_that_cannot_pass tests a rejection.
  result = run_cli('run', 'forecast', '--data', data_dir, '--root', root, '--min-skill', '-1', *FAST)
  assert result.returncode == 0, result.stdout + result.stderr
  return result


def _metadata(root):
  return os.path.join(root, 'metadata.sqlite')


def _versions(root):
  return sorted(glob.glob(os.path.join(root, 'serving', 'forecast', '[0-9]*')))


def test_first_run_executes_every_component_and_pushes(first_run, root):
  run = read_run_of(root, first_run)
  executed = {node for node, states in run.execution_states.items() if states == ['COMPLETE']}
  assert NODES <= executed, run.execution_states
  assert run_record.artifact_property(run.output('ModelBlessing'), 'blessed') == 1
  assert run_record.artifact_property(run.output('InfraBlessing'), 'blessed') == 1
  pushed = run_record.artifact_property(run.output('PushedModel'), 'pushed_destination')
  assert _versions(root) == [pushed]
  assert not glob.glob(os.path.join(root, 'serving', 'forecast', '.staging*'))
  # One progress line per component, then the summary.
  for node in NODES:
    assert re.search(rf'\] {node} +done', first_run.stdout), first_run.stdout
  assert 'blessed     yes' in first_run.stdout and f'pushed      {pushed}' in first_run.stdout


def test_gaps_are_dropped_and_reported(first_run, root):
  assert 'gaps        1 (windows spanning them dropped): 2013-01-21 19:00:00 -> 2013-01-22 01:00:00' \
      in first_run.stdout
  run = read_run_of(root, first_run)
  windows = _eval_windows(run, 'train')
  stamps = [w.features.feature['target_timestamp'].int64_list.value[0] for w in windows]
  gap_start, gap_end = 1358794800, 1358816400  # 2013-01-21 19:00 and 2013-01-22 01:00 UTC
  for target in stamps:  # no window has inputs on both sides of the gap
    first_input = target - 24 * 3600
    assert not (first_input <= gap_start and target >= gap_end)


def _eval_windows(run, split='eval'):
  examples = next(a for a in run.outputs['Examples'] if 'TimeSeriesWindowGen' in a.uri)
  files = glob.glob(os.path.join(examples.uri, f'Split-{split}', '*.gz'))
  return [tf.train.Example.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]


def test_pushed_model_answers_raw_windows_in_original_units(first_run, root):
  run = read_run_of(root, first_run)
  windows = _eval_windows(run)[:64]
  model = tf.saved_model.load(_versions(root)[0])
  from_examples = model.signatures['serving_default'](
      examples=tf.constant([w.SerializeToString() for w in windows]))['forecast'].numpy()
  signature = model.signatures['forecast_window']
  raw = {}
  for name, spec in signature.structured_input_signature[1].items():
    kind = {tf.float32: 'float_list', tf.string: 'bytes_list', tf.int64: 'int64_list'}[spec.dtype]
    values = [getattr(w.features.feature[name], kind).value for w in windows]
    raw[name] = tf.constant(np.array([list(v) for v in values]), dtype=spec.dtype)
  from_window = signature(**raw)['forecast'].numpy()
  assert from_window.shape == (len(windows),) and np.all(np.isfinite(from_window))
  np.testing.assert_allclose(from_window, from_examples, rtol=1e-5, atol=1e-4)
  # Original units: forecasts track the last observed PM2.5 (tens to hundreds of µg/m³), not z-scores.
  last = np.array([w.features.feature['persistence_forecast'].float_list.value[0] for w in windows])
  labels = np.array([w.features.feature['label'].float_list.value[0] for w in windows])
  assert np.median(np.abs(from_window - last)) < 0.5 * np.std(labels)


def test_predict_command_forecasts_after_the_last_window(first_run, root, tmp_path):
  with open(BUNDLED_FORECAST_CSV) as src:
    (tmp_path / 'recent.csv').write_text(''.join(src.readlines()[:241]))  # header + 10 complete days
  result = run_cli('predict', 'forecast', '--model', os.path.join(root, 'serving', 'forecast'),
                   '--input', str(tmp_path / 'recent.csv'), '--last', '2')
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 2
  match = re.match(r'window ending 2013-01-10 23:00:00 -> pm2.5 at 2013-01-11 00:00:00: (-?[\d.]+)$', lines[1])
  assert match, lines
  assert np.isfinite(float(match.group(1)))


def test_test_split_is_scored_after_the_push_with_the_model_and_persistence(first_run, root):
  run = read_run_of(root, first_run)
  assert run.execution_states['ForecastTestScore'] == ['COMPLETE']
  with open(os.path.join(run.output(components.TEST_SCORE).uri, 'test_score.json')) as f:
    score = json.load(f)
  windows = _eval_windows(run, 'test')
  model = tf.saved_model.load(_versions(root)[0])
  forecasts = model.signatures['serving_default'](
      examples=tf.constant([w.SerializeToString() for w in windows]))['forecast'].numpy()
  labels = np.array([w.features.feature['label'].float_list.value[0] for w in windows])
  last = np.array([w.features.feature['persistence_forecast'].float_list.value[0] for w in windows])
  assert score['windows'] == len(windows) > 0
  np.testing.assert_allclose(score['mae'], np.mean(np.abs(forecasts - labels)), rtol=1e-4)
  np.testing.assert_allclose(score['persistence_mae'], np.mean(np.abs(last - labels)), rtol=1e-5)
  np.testing.assert_allclose(score['forecast_skill'], 1 - score['mae'] / score['persistence_mae'], rtol=1e-6)
  assert f"test        MAE {score['mae']:.3f}" in first_run.stdout
  assert f"on {len(windows):,} windows, scored after the push decision" in first_run.stdout


def test_two_workers_train_one_model_that_serves_like_the_run(first_run, root, tmp_path):
  """MultiWorkerMirroredStrategy from TF_CONFIG: two local worker processes retrain this run's model from its
  Transform outputs (tests/test_multiworker.py has the check and the worker program)."""
  from test_multiworker import check_two_workers_against_the_run  # pylint: disable=g-import-not-at-top
  check_two_workers_against_the_run(read_run_of(root, first_run), tmp_path)


def test_unchanged_rerun_is_served_from_cache(first_run, root, data_dir):
  result = run_cli('run', 'forecast', '--data', data_dir, '--root', root, '--min-skill', '-1', *FAST)
  assert result.returncode == 0, result.stderr
  run = read_run_of(root, result)
  states = {node: s for node, s in run.execution_states.items() if node in NODES}
  assert states == {node: ['CACHED'] for node in NODES}
  assert len(_versions(root)) == 1


def test_gate_that_cannot_pass_blesses_and_pushes_nothing(first_run, root, data_dir):
  result = run_cli('run', 'forecast', '--data', data_dir, '--root', root, '--min-skill', '0.99', *FAST)
  assert result.returncode == 0, result.stderr
  assert 'blessed     NO' in result.stdout and 'forecast_skill' in result.stdout
  run = read_run_of(root, result)
  assert run.execution_states['Trainer'] == ['CACHED']  # only the gate changed
  assert run_record.artifact_property(run.output('ModelBlessing'), 'blessed') == 0
  assert run_record.artifact_property(run.output('PushedModel'), 'pushed') == 0
  assert len(_versions(root)) == 1


def test_gap_policy_fail_names_the_first_gap_and_pushes_nothing(data_dir, tmp_path):
  result = run_cli('run', 'forecast', '--data', data_dir, '--root', str(tmp_path), '--gap-policy', 'fail', *FAST)
  assert result.returncode == 1
  assert 'gap in series (single): no rows between 2013-01-21 19:00:00 and 2013-01-22 01:00:00' in result.stderr
  assert 'nothing was pushed' in result.stderr
  assert not os.path.exists(os.path.join(tmp_path, 'serving'))
  run = read_run_of(str(tmp_path), result)
  assert run.execution_states['TimeSeriesWindowGen'] == ['FAILED']
  assert 'Transform' not in run.execution_states
  summary = run_cli('summary', '--root', str(tmp_path), '--run', run.run_id)
  assert 'failed      TimeSeriesWindowGen' in summary.stdout, summary.stdout + summary.stderr
  assert 'pushed      no (the run stopped before Pusher)' in summary.stdout
  # The failed run has its report too, and it says where the run stopped.
  report = os.path.join(str(tmp_path), 'reports', f'{run.run_id}.html')
  assert f'  report      {report}' in result.stdout
  page = open(report, encoding='utf-8').read()
  assert 'The run failed in TimeSeriesWindowGen.' in page and 'No evaluation: the run stopped before the Evaluator' in page
  assert 'no: the run stopped before Pusher' in page
  assert '<tr><td>TimeSeriesWindowGen</td><td class="failed">failed</td>' in page
  for node in ('Transform', 'Trainer', 'Evaluator', 'Pusher'):  # the plan, recorded by the runner
    assert f'<tr><td>{node}</td><td class="not started">not started</td>' in page, node


@pytest.fixture(scope='module')
def newer_data_dir(data_dir, tmp_path_factory):
  """The same series one day shorter: new data, so the Trainer runs again and a baseline exists."""
  directory = tmp_path_factory.mktemp('forecast_data_newer')
  lines = open(os.path.join(data_dir, 'part-0.csv')).readlines()
  (directory / 'part-0.csv').write_text(''.join(lines[:-24]))
  return str(directory)


def test_new_data_is_compared_with_the_latest_blessed_model(first_run, root, newer_data_dir):
  first_model = read_run_of(root, first_run)
  first_model_id = first_model.output('Model').id
  # A generous change threshold: the candidate is blessed as long as it is compared at all.
  result = run_cli('run', 'forecast', '--data', newer_data_dir, '--root', root, '--min-skill', '-1',
                   '--max-mae-increase', '1e6', *FAST)
  assert result.returncode == 0, result.stderr
  run = read_run_of(root, result)
  assert run.execution_states['Trainer'] == ['COMPLETE']
  blessing = run.output('ModelBlessing')
  assert run_record.artifact_property(blessing, 'baseline_model_id') == first_model_id
  assert run_record.artifact_property(blessing, 'blessed') == 1
  assert f'against blessed model {first_model_id}' in result.stdout
  assert len(_versions(root)) == 2

  # An impossible change threshold: the same candidate, compared with the same baseline, is rejected.
  result = run_cli('run', 'forecast', '--data', newer_data_dir, '--root', root, '--min-skill', '-1',
                   '--max-mae-increase=-1e6', *FAST)
  assert result.returncode == 0, result.stderr
  run = read_run_of(root, result)
  assert run.execution_states['Trainer'] == ['CACHED']
  assert run_record.artifact_property(run.output('ModelBlessing'), 'baseline_model_id') == first_model_id
  assert run_record.artifact_property(run.output('ModelBlessing'), 'blessed') == 0
  assert 'mae changed by' in result.stdout and 'vs the blessed baseline' in result.stdout
  assert len(_versions(root)) == 2


def _eval_line(output: str) -> str:
  return next(line for line in output.splitlines() if line.startswith('  eval  '))


def test_epochs_change_reruns_training_only_with_live_progress(first_run, root, newer_data_dir):
  """Run B differs from the run before it by --epochs alone: Trainer and what follows execute, nothing upstream.
  Its epoch lines reach a pipe while it runs, and each run's summary is read by its run id."""
  args = ['run', 'forecast', '--data', newer_data_dir, '--root', root, '--min-skill', '-1', '--max-mae-increase',
          '1e6', '--units', '16', '--replicas', '2', '--epochs', '2']
  process = subprocess.Popen([sys.executable, '-m', 'cli', *args], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
  lines, seen_while_running = [], []
  for line in process.stdout:
    lines.append(line)
    if re.search(r'\] Trainer +epoch \d/2  loss [\d.]+  eval mae [\d.]+  \d+s left', line):
      seen_while_running.append(process.poll() is None)
  process.wait(timeout=600)
  output = ''.join(lines)
  assert process.returncode == 0, output + process.stderr.read()
  assert seen_while_running == [True, True], output  # both epochs, each read before the run ended

  run = read_run_of(root, subprocess.CompletedProcess(args, 0, output, ''))
  upstream = ['FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'TimeSeriesWindowGen',
              'Transform']
  assert {node: run.execution_states[node] for node in upstream} == {node: ['CACHED'] for node in upstream}
  training = ['Trainer', 'Evaluator', 'ServingSmokeTest', 'Pusher', 'ForecastTestScore']
  assert {node: run.execution_states[node] for node in training} == {node: ['COMPLETE'] for node in training}
  assert f"tensorboard --logdir {run.output('ModelRun').uri}" in output
  assert glob.glob(os.path.join(run.output('ModelRun').uri, 'train', 'events.out.tfevents.*'))

  # Each run's summary, asked for by run id, shows that run's metrics (the newest run is B).
  for result in (first_run, subprocess.CompletedProcess(args, 0, output, '')):
    run_id = read_run_of(root, result).run_id
    summary = run_cli('summary', '--root', root, '--run', run_id)
    assert summary.returncode == 0, summary.stderr
    assert f'summary of run {run_id}' in summary.stdout
    assert _eval_line(summary.stdout) == _eval_line(result.stdout)
  assert _eval_line(first_run.stdout) != _eval_line(output)
  latest = run_cli('summary', '--root', root, '--task', 'forecast')
  assert f'summary of run {run.run_id}' in latest.stdout


# ----------------------------------------------------------------------------------------------------
# Reports, `tfx-lstm runs` and `report --compare`, read from the runs above (blessed and not, with and without a
# baseline, a training-only change).

def _report_of(root, run_id):
  with open(os.path.join(root, 'reports', f'{run_id}.html'), encoding='utf-8') as f:
    return f.read()


def test_every_run_wrote_a_report_with_tfmas_numbers_and_its_blessing(first_run, root):
  metadata = _metadata(root)
  blessings = set()
  for run_id in run_record.run_ids(metadata, PIPELINE):
    run = run_record.read_run(metadata, run_id)
    page = _report_of(root, run_id)  # written by the run itself, at its end
    values = assert_report_matches_tfma(page, run.output('ModelEvaluation').uri)
    blessing = run.output('ModelBlessing')
    blessed = run_record.artifact_property(blessing, 'blessed')
    blessings.add(blessed)
    if blessed:
      assert '<strong id="blessing">blessed: all ' in page
      assert '<td class="FAIL">' not in page
    else:
      assert '<strong id="blessing">not blessed: ' in page and '<td class="FAIL">FAIL</td>' in page
      assert 'forecast_skill = ' in page or 'mae changed by ' in page
      assert 'no: the model was not blessed' in page
    if run_record.artifact_property(blessing, 'baseline_model_id'):
      assert any(model == 'baseline' for model, _, _ in values)  # the baseline's column, beside the candidate's
    pushed = run.output('PushedModel')
    if run_record.artifact_property(pushed, 'pushed'):
      assert run_record.artifact_property(pushed, 'pushed_destination') in page
    score = json.load(open(os.path.join(run.output(components.TEST_SCORE).uri, 'test_score.json')))
    test_table = page[page.index('<table id="test-score">'):]
    test_table = test_table[:test_table.index('</table>')]
    assert f"{score['mae']:.4g}" in test_table and f"<td class=\"num\">{score['windows']:,}</td>" in test_table
    # Input files and span come from ExampleGen's output, so cached runs show them too.
    files = re.search(r'<tr><th>input files</th><td>([^<]+)<br>', page)
    assert files and re.fullmatch(r'rows: 1 file\(s\), [\d,]+ bytes', files.group(1)), run_id
    assert '<tr><th>span</th><td>0</td></tr>' in page
    if run.execution_states['Pusher'] == ['CACHED']:
      assert 'no new push: everything up to the Pusher was served from the cache' in page
    for section in ('Windowing', 'forecast vs actual vs persistence', 'mean absolute error by hour of day',
                    'mean absolute error by month', 'loss per epoch', 'mae per epoch', 'Hyperparameters',
                    'serving smoke test'):
      assert section in page, section
  assert blessings == {0, 1}


def test_runs_lists_every_run_newest_first_with_blessing_and_push(first_run, root):
  result = run_cli('runs', '--root', root, '--task', 'forecast')
  assert result.returncode == 0, result.stderr
  header, *lines = result.stdout.splitlines()
  assert header.split() == ['RUN', 'ID', 'TASK', 'STARTED', 'STATUS', 'HEADLINE', 'BLESSED', 'PUSHED']
  metadata = _metadata(root)
  expected_ids = run_record.run_ids(metadata, PIPELINE)[::-1]
  assert [line.split()[0] for line in lines] == expected_ids and len(expected_ids) >= 5
  starts = [re.split(r'\s{2,}', line)[2] for line in lines]
  assert starts == sorted(starts, reverse=True)
  pushed_by_a_run = 0
  for line, run_id in zip(lines, expected_ids):
    run = run_record.read_run(metadata, run_id)
    columns = re.split(r'\s{2,}', line)
    blessed = run_record.artifact_property(run.output('ModelBlessing'), 'blessed')
    pushed = run.output('PushedModel')
    # A run pushed when its own Pusher executed and pushed; a cached Pusher's artifact is an earlier push.
    version = (run_record.artifact_property(pushed, 'pushed_version')
               if run.execution_states['Pusher'] == ['COMPLETE'] and run_record.artifact_property(pushed, 'pushed')
               else None)
    pushed_by_a_run += bool(version)
    assert columns[3] == 'complete' and columns[4].startswith('forecast_skill '), line
    assert columns[5] == ('yes' if blessed else 'no'), line
    assert columns[6] == (version or '-'), line
  assert pushed_by_a_run == len(_versions(root))  # every version in serving/ was pushed by exactly one listed run


def test_report_command_and_compare_of_two_runs(first_run, root, tmp_path):
  metadata = _metadata(root)
  first_id, *_, latest_id = run_record.run_ids(metadata, PIPELINE)
  # --task: the latest run's report, wherever --output says.
  result = run_cli('report', '--root', root, '--task', 'forecast', '--output', str(tmp_path / 'latest.html'))
  assert result.returncode == 0 and result.stdout.strip() == str(tmp_path / 'latest.html'), result.stderr
  assert f'<code id="run-id">{latest_id}</code>' in (tmp_path / 'latest.html').read_text()
  # --run: that run's report, again, at its default place (what the run itself wrote there).
  default_path = os.path.join(root, 'reports', f'{first_id}.html')
  before = _report_of(root, first_id)
  result = run_cli('report', '--root', root, '--run', first_id)
  assert result.returncode == 0 and result.stdout.strip() == default_path, result.stderr
  assert _report_of(root, first_id) == before  # the same run renders the same page

  result = run_cli('report', '--root', root, '--compare', first_id, latest_id, '--output', str(tmp_path / 'ab.html'))
  assert result.returncode == 0, result.stderr
  page = (tmp_path / 'ab.html').read_text()
  shown = report_values(page, 'data-run')
  for side, run_id in (('a', first_id), ('b', latest_id)):
    evaluation = run_record.read_run(metadata, run_id).output('ModelEvaluation').uri
    from report_checks import tfma_values  # pylint: disable=g-import-not-at-top
    candidate = {(s, m): v for (model, s, m), v in tfma_values(evaluation).items() if model == 'candidate'}
    assert {(s, m): v for (run, s, m), v in shown.items() if run == side and v is not None} == candidate
  # The runs differ in epochs and data: the comparison marks those rows, and shows both runs' data.
  assert re.search(r'<tr class="FAIL"><th>epochs</th><td>1</td><td>2</td></tr>', page), page[:2000]
  assert re.search(r'<tr class="FAIL"><th>input directory</th><td>[^<]+forecast_data0?</td><td>[^<]+newer', page)
  windows = re.search(r'<tr class="FAIL"><th>windows \(test\)</th><td>([\d,]+)</td><td>([\d,]+)</td></tr>', page)
  assert windows, page[page.index('id="data"'):][:3000]
  # Without --output: under the root's reports/, named after both runs.
  result = run_cli('report', '--root', root, '--compare', first_id, latest_id)
  default_compare = os.path.join(root, 'reports', f'compare-{first_id}-vs-{latest_id}.html')
  assert result.returncode == 0 and result.stdout.strip() == default_compare, result.stderr
  assert report_values(open(default_compare, encoding='utf-8').read(), 'data-run') == shown
  missing = run_cli('report', '--root', root, '--compare', first_id, 'forecast-nope')
  assert missing.returncode == 2 and "no run 'forecast-nope'" in missing.stderr


def test_report_opens_in_a_browser_offline(first_run, root):
  run_id = read_run_of(root, first_run).run_id
  assert_opens_cleanly_offline(os.path.join(root, 'reports', f'{run_id}.html'), 'report-forecast.png',
                               'Evaluation', 'Windowing', 'Push')


# ----------------------------------------------------------------------------------------------------
# A worse model: the same series with heavy noise on the target in its training period.

def test_noisy_target_trains_a_worse_model_that_is_not_pushed(first_run, root, newer_data_dir, tmp_path):
  """The target of the training period drowned in noise (eval and test periods untouched): the model's eval
  MAE rises above the latest blessed model's, the default gate keeps the served version, and the summary says by
  how much the threshold was missed."""
  with open(os.path.join(newer_data_dir, 'part-0.csv'), newline='') as f:
    rows = list(csv.reader(f))
  header, body = rows[0], rows[1:]
  target = header.index('pm2.5')
  missing = ('', 'NA')
  values = np.array([float(r[target]) for r in body if r[target] not in missing])
  noise = np.random.default_rng(7).normal(0.0, 3 * values.std(), len(body))
  training_period = int(len(body) * 0.75)  # the eval and test splits are the last 20% of the time range
  for row, extra in zip(body[:training_period], noise):
    if row[target] not in missing:
      row[target] = f'{max(0.0, float(row[target]) + extra):.1f}'
  noisy = tmp_path / 'noisy'
  noisy.mkdir()
  with open(noisy / 'part-0.csv', 'w', newline='') as f:
    csv.writer(f).writerows([header, *body])
  served_before = _versions(root)
  # The noise moves the target's distribution past the data check's drift threshold; this run is about the model
  # gate, so the data check lets it through.
  # From scratch, as a model trained on this data alone (warm start would carry the served model's weights over).
  result = run_cli('run', 'forecast', '--data', str(noisy), '--root', root, '--max-numeric-drift', '1',
                   '--no-warm-start', *FAST)
  assert result.returncode == 0, result.stdout + result.stderr
  run = read_run_of(root, result)
  assert run.execution_states['Trainer'] == ['COMPLETE']
  blessing = run.output('ModelBlessing')
  assert run_record.artifact_property(blessing, 'baseline_model_id') is not None
  assert run_record.artifact_property(blessing, 'blessed') == 0
  assert run_record.artifact_property(run.output('PushedModel'), 'pushed') == 0
  assert _versions(root) == served_before
  assert 'blessed     NO' in result.stdout and 'pushed      no (model not blessed)' in result.stdout
  worse = re.search(r'mae changed by \+([0-9.e+-]+) vs the blessed baseline, allowed [-+]0 \(missed by ([0-9.e+-]+)\)',
                    result.stdout)
  assert worse and float(worse.group(1)) > 0 and worse.group(1) == worse.group(2), result.stdout
