"""Tier 3: operating the pipeline on one root: the per-task lock between real runs, and Beam in
multi-processing mode through --beam-arg."""
import csv
import glob
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import BUNDLED_FORECAST_CSV, REPO, read_run_of, run_cli
from records import run_record
from records import evaluation

pytestmark = pytest.mark.e2e

TINY_SENTIMENT = ['--epochs', '1', '--units', '8', '--embedding-dim', '8', '--min-auc', '0']


@pytest.fixture(scope='module')
def sentiment_data(tmp_path_factory):
  """train*/eval* files as a spreadsheet in some locales exports them: `.csv` with `;` between quoted fields, and
  a `genre` column to slice by. (A genre that training never saw would be an anomaly and stop the run: the
  retraining story tests that.)"""
  directory = tmp_path_factory.mktemp('sst2_semicolon')
  with open(os.path.join(REPO, 'data', 'sst2', 'train.tsv'), encoding='utf-8') as f:
    rows = [line.rstrip('\n').split('\t') for line in f.readlines()[1:501]]
  genres = {'train.csv': ('drama', 'comedy'), 'eval.csv': ('drama', 'comedy')}
  for name, part in (('train.csv', rows[:400]), ('eval.csv', rows[400:])):
    with open(directory / name, 'w', encoding='utf-8', newline='') as f:
      csv.writer(f, delimiter=';', quoting=csv.QUOTE_ALL).writerows(
          [('text', 'label', 'genre'), *[(*row, genres[name][i % len(genres[name])]) for i, row in enumerate(part)]])
  return str(directory)


def _start(*args):
  return subprocess.Popen([sys.executable, '-m', 'cli', *args], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def test_two_runs_of_one_task_on_one_root(sentiment_data, tmp_path):
  """One sentiment run holds the root; a second is refused, a third waits; a forecast run goes on beside them."""
  root = str(tmp_path / 'root')
  args = ['run', 'sentiment', '--data', sentiment_data, '--delimiter', ';', '--root', root, '--slice-columns', 'genre',
          *TINY_SENTIMENT]
  # What a run killed with kill -9 leaves behind: its note (the kernel has released its lock).
  os.makedirs(os.path.join(root, 'locks'))
  holder_note = os.path.join(root, 'locks', 'sentiment.holder.json')
  with open(holder_note, 'w') as f:
    json.dump({'pid': 999999, 'host': 'gone', 'started': '2026-01-01 00:00:00 UTC', 'run_id': 'sentiment-old'}, f)

  first = _start(*args)
  deadline = time.time() + 120
  while True:  # wait until the first run has replaced the dead run's note with its own
    try:
      with open(holder_note) as f:
        if json.load(f)['pid'] == first.pid:
          break
    except (OSError, ValueError):
      pass
    assert first.poll() is None and time.time() < deadline, 'the first run never took the lock'
    time.sleep(0.1)

  # Another task on the same root goes ahead at the same time (its own lock; SQLite serialises ML Metadata).
  forecast = _start('run', 'forecast', '--data', _forecast_rows(tmp_path / 'rows', 1200), '--root', root,
                    '--epochs', '1', '--units', '8', '--min-skill', '-1')
  refused = run_cli(*args)  # no --wait: exits at once, naming the holder
  assert refused.returncode == 75, refused.stdout + refused.stderr
  assert f'another sentiment run holds {root}/locks/sentiment.lock: pid {first.pid} on host ' in refused.stderr
  assert 'Wait for it to finish (--wait)' in refused.stderr
  queued = _start(*args, '--wait', '--no-cache')  # waits, then runs after the first, every component again

  first_out, first_err = first.communicate(timeout=900)
  queued_out, queued_err = queued.communicate(timeout=900)
  forecast_out, forecast_err = forecast.communicate(timeout=900)
  assert forecast.returncode == 0, forecast_out + forecast_err
  forecast_run = read_run_of(root, subprocess.CompletedProcess([], 0, forecast_out, ''))
  assert forecast_run.pipeline_name == 'tfx-lstm-forecast' and 'Pusher' in forecast_run.nodes_in_state('COMPLETE')
  assert first.returncode == 0, first_out + first_err
  assert queued.returncode == 0, queued_out + queued_err
  assert 'took over the sentiment lock left by pid 999999 on host gone' in first_out
  assert 'train train.csv; eval eval.csv; \';\'-separated, CSV quoting' in first_out
  assert f'waiting for the sentiment run of pid {first.pid}' in queued_out

  # ML Metadata holds exactly the two runs that ran, each complete; the refused one left no trace.
  first_run, queued_run = (read_run_of(root, subprocess.CompletedProcess(args, 0, out, ''))
                           for out in (first_out, queued_out))
  assert run_record.run_ids(os.path.join(root, 'metadata.sqlite'), 'tfx-lstm-sentiment') == [
      first_run.run_id, queued_run.run_id]
  for run in (first_run, queued_run):
    assert set(run.nodes_in_state('COMPLETE')) >= {'FileBasedExampleGen', 'Transform', 'Trainer', 'Evaluator'}
    assert not run.nodes_in_state('FAILED') and not run.nodes_in_state('CACHED')
  # The serving directory holds only complete versions, each one a run's pushed model.
  versions = sorted(glob.glob(os.path.join(root, 'serving', 'sentiment', '*')))
  pushed = [run_record.artifact_property(run.output('PushedModel'), 'pushed_destination')
            for run in (first_run, queued_run)]
  assert versions == sorted(p for p in pushed if p) and versions
  assert all(os.path.exists(os.path.join(v, 'saved_model.pb')) for v in versions)
  assert sorted(os.listdir(os.path.join(root, 'logs'))) == sorted(
      [f'{first_run.run_id}.log', f'{queued_run.run_id}.log', f'{forecast_run.run_id}.log'])
  assert not os.path.exists(holder_note)

  # Each run's report shows the genre slices; no anomaly, so no banner.
  for run in (first_run, queued_run):
    with open(os.path.join(root, 'reports', f'{run.run_id}.html'), encoding='utf-8') as f:
      page = f.read()
    assert 'id="anomaly-banner"' not in page and 'genre = comedy' in page

  # `tfx-lstm runs` without --task: every run on the root, of both tasks, newest first.
  listed = run_cli('runs', '--root', root)
  assert listed.returncode == 0, listed.stderr
  rows = [re.split(r'\s{2,}', line) for line in listed.stdout.splitlines()[1:]]
  by_id = {row[0]: row for row in rows}
  assert set(by_id) == {first_run.run_id, queued_run.run_id, forecast_run.run_id}
  assert by_id[forecast_run.run_id][1] == 'forecast' and by_id[first_run.run_id][1] == 'sentiment'
  assert [row[0] for row in rows if row[1] == 'sentiment'] == [queued_run.run_id, first_run.run_id]
  assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)


def _forecast_rows(directory, rows: int) -> str:
  os.makedirs(directory)
  with open(BUNDLED_FORECAST_CSV) as src:
    (directory / 'rows.csv').write_text(''.join(src.readlines()[:rows + 1]))
  return str(directory)


def test_forecast_with_multi_processing_beam_args(tmp_path):
  """Several files, several series in them (--series-column), and Beam's multi-processing DirectRunner."""
  data = tmp_path / 'data'
  os.makedirs(data)
  with open(BUNDLED_FORECAST_CSV) as src:
    header, *rows = list(csv.reader(src))[:1201]
  for station, shift in (('north', 0.0), ('south', 5.0)):
    with open(data / f'{station}.csv', 'w', newline='') as dst:
      writer = csv.writer(dst)
      writer.writerow(header + ['station'])
      for row in rows:
        values = dict(zip(header, row))
        if values['pm2.5']:
          values['pm2.5'] = str(float(values['pm2.5']) + shift)
        writer.writerow([values[c] for c in header] + [station])
  root = str(tmp_path / 'root')
  result = run_cli('run', 'forecast', '--data', str(data), '--root', root, '--series-column', 'station',
                   '--epochs', '1', '--units', '8', '--min-skill', '-1',
                   '--beam-arg=--direct_running_mode=multi_processing', '--beam-arg=--direct_num_workers=2',
                   timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr
  assert '2,400 rows in 2 file(s)' in result.stdout and 'from 2,400 rows in 2 series' in result.stdout
  run = read_run_of(root, result)
  assert not run.nodes_in_state('FAILED') and 'Pusher' in run.nodes_in_state('COMPLETE')
  assert run_record.artifact_property(run.output('PushedModel'), 'pushed') == 1
  sliced = evaluation.sliced_metrics(run.output('ModelEvaluation').uri)
  assert {key for key in sliced if key and key[0][0] == 'series_id'} == {
      (('series_id', 'north'),), (('series_id', 'south'),)}
  # The flags reached the Beam components, and TFX built no sdist of itself for them.
  with open(os.path.join(root, 'logs', f'{run.run_id}.log'), encoding='utf-8') as f:
    log = f.read()
  assert 'beam_pipeline_args: "--direct_running_mode=multi_processing"' in log
  assert 'apache_beam.runners.portability.local_job_service: Worker' in log  # SDK worker processes ran
  assert 'Attempting to infer TFX Python dependency for beam' not in log
