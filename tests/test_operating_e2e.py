"""Tier 3: operating the pipeline on one root: the per-task lock between real runs, and Beam in
multi-processing mode through --beam-arg."""
import csv
import glob
import os
import subprocess
import sys
import time

import pytest

from conftest import BUNDLED_FORECAST_CSV, REPO, read_run_of, run_cli
from records import run_record

pytestmark = pytest.mark.e2e

TINY_SENTIMENT = ['--epochs', '1', '--units', '8', '--embedding-dim', '8', '--min-auc', '0']


@pytest.fixture(scope='module')
def sentiment_data(tmp_path_factory):
  """The pooled-TSV layout: one tab-separated file, hash-split 90/10 by the pipeline."""
  directory = tmp_path_factory.mktemp('sst2_tiny')
  with open(os.path.join(REPO, 'data', 'sst2', 'train.tsv'), encoding='utf-8') as f:
    (directory / 'sentences.tsv').write_text(''.join(f.readlines()[:501]), encoding='utf-8')
  return str(directory)


def _start(*args):
  return subprocess.Popen([sys.executable, '-m', 'pipeline.cli', *args], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def test_two_runs_of_one_task_on_one_root(sentiment_data, tmp_path):
  root = str(tmp_path / 'root')
  args = ['run', 'sentiment', '--data', sentiment_data, '--root', root, *TINY_SENTIMENT]
  first = _start(*args)
  holder_note = os.path.join(root, 'locks', 'sentiment.holder.json')
  deadline = time.time() + 120
  while not os.path.exists(holder_note):
    assert first.poll() is None and time.time() < deadline, 'the first run never took the lock'
    time.sleep(0.1)

  refused = run_cli(*args)  # no --wait: exits at once, naming the holder
  assert refused.returncode == 2, refused.stdout + refused.stderr
  assert f'another sentiment run holds {root}/locks/sentiment.lock: pid {first.pid} on host ' in refused.stderr
  assert 'Wait for it to finish (--wait)' in refused.stderr
  queued = _start(*args, '--wait')  # waits, then runs after the first

  first_out, first_err = first.communicate(timeout=900)
  queued_out, queued_err = queued.communicate(timeout=900)
  assert first.returncode == 0, first_out + first_err
  assert '1 *.tsv file(s), hash split 90/10 into train/eval; tab-separated, no quoting' in first_out
  assert queued.returncode == 0, queued_out + queued_err
  assert f'waiting for the sentiment run of pid {first.pid}' in queued_out

  # ML Metadata holds exactly the two runs that ran; the queued one found everything in the cache.
  first_run, queued_run = (read_run_of(root, subprocess.CompletedProcess(args, 0, out, ''))
                           for out in (first_out, queued_out))
  assert run_record.run_ids(os.path.join(root, 'metadata.sqlite'), 'tfx-lstm-sentiment') == [
      first_run.run_id, queued_run.run_id]
  assert first_run.nodes_in_state('COMPLETE') and not first_run.nodes_in_state('FAILED')
  assert set(queued_run.nodes_in_state('CACHED')) >= {'FileBasedExampleGen', 'Transform', 'Trainer', 'Pusher'}
  # The serving directory holds the one pushed version, complete, and nothing half-written.
  versions = glob.glob(os.path.join(root, 'serving', 'sentiment', '*'))
  pushed = run_record.artifact_property(first_run.output('PushedModel'), 'pushed_destination')
  assert versions == [pushed] and os.path.exists(os.path.join(pushed, 'saved_model.pb'))
  assert sorted(os.listdir(os.path.join(root, 'logs'))) == sorted(
      [f'{first_run.run_id}.log', f'{queued_run.run_id}.log'])
  assert not os.path.exists(os.path.join(root, 'locks', 'sentiment.holder.json'))


def test_forecast_with_multi_processing_beam_args(tmp_path):
  data = tmp_path / 'data'
  os.makedirs(data)
  with open(BUNDLED_FORECAST_CSV) as src, open(data / 'rows.csv', 'w', newline='') as dst:
    writer = csv.writer(dst)
    for i, row in enumerate(csv.reader(src)):
      if i > 1200:
        break
      writer.writerow(row)
  root = str(tmp_path / 'root')
  result = run_cli('run', 'forecast', '--data', str(data), '--root', root, '--epochs', '1', '--units', '8',
                   '--min-skill', '-1', '--beam-arg=--direct_running_mode=multi_processing',
                   '--beam-arg=--direct_num_workers=2', timeout=1500)
  assert result.returncode == 0, result.stdout + result.stderr
  run = read_run_of(root, result)
  assert not run.nodes_in_state('FAILED') and 'Pusher' in run.nodes_in_state('COMPLETE')
  assert run_record.artifact_property(run.output('PushedModel'), 'pushed') == 1
  # The flags reached the Beam components, and TFX built no sdist of itself for them.
  with open(os.path.join(root, 'logs', f'{run.run_id}.log'), encoding='utf-8') as f:
    log = f.read()
  assert 'beam_pipeline_args: "--direct_running_mode=multi_processing"' in log
  assert 'apache_beam.runners.portability.local_job_service: Worker' in log  # SDK worker processes ran
  assert 'Attempting to infer TFX Python dependency for beam' not in log
