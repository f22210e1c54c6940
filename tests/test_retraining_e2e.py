"""Tier 3: continuous retraining of one task, as the scheduler drives it: three spans of sentiment data land one
after another; the second is warm-started and replaces the first in serving, the third is broken and drifted and
is stopped before the Trainer; then a rollback serves the first model again."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, open_in_browser, run_cli
from core import data_contract
from orchestration.scheduler import RetrainScheduler
from records import run_record
from records import serving_history
from trainer import common

pytestmark = pytest.mark.e2e

NEW_GENRE = '<doc&umentary>'  # HTML's special characters: the report must show it as text
FLAGS = ['--epochs', '2', '--units', '16', '--embedding-dim', '16', '--min-auc', '0', '--keep-versions', '3',
         # The story is about mechanics: span 2's model replaces span 1's whatever two epochs make of it.
         '--max-auc-drop', '1']
SENTENCES = ['a gripping , beautifully acted film .', 'dull , lifeless and far too long .']


def _sst2(name: str):
  with open(os.path.join(REPO, 'data', 'sst2', name), encoding='utf-8') as f:
    return [line.rstrip('\n').split('\t') for line in f.readlines()[1:]]


def _write_span(data_dir: str, span: int, train, dev, genres=('drama', 'comedy')) -> None:
  directory = os.path.join(data_dir, f'span-{span}')
  os.makedirs(directory)
  for name, rows in (('train.tsv', train), ('dev.tsv', dev)):
    with open(os.path.join(directory, name), 'w', encoding='utf-8') as f:
      f.write('text\tlabel\tgenre\n')
      f.writelines(f'{text}\t{label}\t{genres[i % len(genres)]}\n' for i, (text, label) in enumerate(rows))


class FakeClock:
  """The scheduler's clock: a cron tick every time the test calls `next_tick`."""

  def __init__(self, scheduler: RetrainScheduler):
    self.scheduler, self.now = scheduler, 1_767_225_600.0  # 2026-01-01 00:00 UTC

  def next_tick(self):
    self.now = self.scheduler.next_fire(self.now)
    return self.scheduler.tick(self.now)


@pytest.fixture(scope='module')
def story(tmp_path_factory):
  """Runs the story once; every test below reads what it left."""
  base = tmp_path_factory.mktemp('retraining')
  data, root = str(base / 'data'), str(base / 'root')
  os.makedirs(data)
  train, dev = _sst2('train.tsv'), _sst2('dev.tsv')
  results, logs = [], []

  def run_once() -> int:
    result = run_cli('run', 'sentiment', '--data', data, '--root', root, '--slice-columns', 'genre', *FLAGS)
    results.append(result)
    return result.returncode

  scheduler = RetrainScheduler('0 3 * * *', lambda: data_contract.data_state(data), run_once, log=logs.append)
  clock = FakeClock(scheduler)
  ticks = {}
  _write_span(data, 1, train[:700], dev[:150])
  ticks['span 1'] = clock.next_tick()
  ticks['nothing new'] = clock.next_tick()
  _write_span(data, 2, train[700:1400], dev[150:300])
  ticks['span 2'] = clock.next_tick()
  # Span 3: every label positive (drift), and a genre training never saw (an anomaly against the fixed schema).
  positive = [row for row in train[1400:] if row[1] == '1'][:700]
  _write_span(data, 3, positive, dev[300:450], genres=('drama', 'comedy', NEW_GENRE))
  ticks['span 3'] = clock.next_tick()
  ticks['after the failure'] = clock.next_tick()
  records = [read_run_of_result(root, r) for r in results]
  return {'root': root, 'data': data, 'ticks': ticks, 'results': results, 'records': records, 'logs': logs}


def read_run_of_result(root, result):
  run_id = re.search(r'^  run (\S+)$', result.stdout, re.M).group(1)
  return run_record.read_run(os.path.join(root, 'metadata.sqlite'), run_id)


def _served_versions(root):
  return sorted(v for v in os.listdir(os.path.join(root, 'serving', 'sentiment')) if v.isdigit())


def test_the_scheduler_runs_each_new_span_once_and_keeps_firing_after_a_failure(story):
  ticks = story['ticks']
  assert [ticks[k].outcome for k in ('span 1', 'nothing new', 'span 2', 'span 3', 'after the failure')] == [
      'ran', 'skipped-no-new-data', 'ran', 'failed', 'skipped-no-new-data'], story['logs']
  assert len(story['results']) == 3  # the skipped ticks started nothing
  assert ticks['span 3'].status == 1
  assert [r.node_output('FileBasedExampleGen', 'examples').custom_properties['spans_read'].string_value
          for r in story['records']] == ['1', '2', '3']


def test_span_one_is_blessed_and_pushed_from_scratch(story):
  first = story['records'][0]
  assert first.pushed_version() and run_record.artifact_property(first.output('ModelBlessing'), 'blessed') == 1
  model_run = first.node_output('Trainer', 'model_run')
  assert not os.path.exists(os.path.join(model_run.uri, common.WARM_START_RECORD))  # nothing to start from


def test_span_two_is_warm_started_from_span_ones_model_and_replaces_it(story):
  first, second = story['records'][:2]
  first_model, second_run = first.node_output('Trainer', 'model'), second.node_output('Trainer', 'model_run')
  with open(os.path.join(second_run.uri, common.WARM_START_RECORD)) as f:
    warm = json.load(f)
  assert warm['restored'] and warm['base_model'].startswith(first_model.uri), warm

  # The weights training started from are span 1's: every weight as it was, the embedding row of every token
  # both vocabularies have moved to the token's new id.
  restored = common.load_npz(os.path.join(second_run.uri, common.RESTORED_FILE))
  span_one = common.load_npz(os.path.join(common.warm_start_dir(first_model.uri), common.WEIGHTS_FILE))
  assert set(restored) == set(span_one)
  for key in restored:
    if key != 'embedding/0':
      np.testing.assert_array_equal(restored[key], span_one[key], err_msg=key)
  vocabularies = []
  for model in (first_model, second.node_output('Trainer', 'model')):
    with open(os.path.join(common.warm_start_dir(model.uri), common.VOCABULARIES_FILE)) as f:
      vocabularies.append(json.load(f)['sentence_vocab'])
  old_index = {token: i for i, token in enumerate(vocabularies[0])}
  shared = [(i, old_index[t]) for i, t in enumerate(vocabularies[1]) if t in old_index]
  assert 300 < len(shared) < len(vocabularies[1])  # the vocabulary did change between the spans
  assert sum(1 for i, j in shared if i != j) > 100  # and many tokens moved
  for new_id, old_id in shared:
    np.testing.assert_array_equal(restored['embedding/0'][new_id], span_one['embedding/0'][old_id])
  assert warm['vocabulary_rows_carried'] == {'sentence_vocab': len(shared)}

  # Compared with span 1's model, blessed, pushed as a new version that is now served.
  blessing = second.output('ModelBlessing')
  assert run_record.artifact_property(blessing, 'baseline_model_id') == first_model.id
  assert run_record.artifact_property(blessing, 'blessed') == 1
  assert _served_versions(story['root']) == [first.pushed_version(), second.pushed_version()]
  # Its data was checked against span 1 for drift and against the served model's training data for skew.
  check = json.load(open(os.path.join(second.node_output('DataCheck', 'result').uri, 'data_check.json')))
  assert check['passed'] and {m['kind'] for m in check['measurements']} == {'drift', 'skew'}
  assert {m['feature'] for m in check['measurements']} == {'text', 'label', 'genre'}


def test_span_three_is_stopped_before_the_trainer_naming_feature_and_measure(story):
  second, third = story['records'][1:]
  result = story['results'][2]
  assert result.returncode == 1
  assert third.nodes_in_state('FAILED') == ['DataCheck']
  for node in ('Transform', 'Trainer', 'Evaluator', 'Pusher'):
    assert node not in third.execution_states, third.execution_states
  assert "drift in feature 'label': Jensen-Shannon divergence" in result.stderr, result.stderr
  assert "skew in feature 'label': Jensen-Shannon divergence" in result.stderr
  assert "anomaly in feature 'genre' (train split)" in result.stderr
  assert 'nothing was pushed' in result.stderr
  # Span 2's model is still the one served.
  assert _served_versions(story['root'])[-1] == second.pushed_version()
  # The run's report says why it stopped, and shows the new genre as text.
  report_path = os.path.join(story['root'], 'reports', f'{third.run_id}.html')
  with open(report_path, encoding='utf-8') as f:
    page = f.read()
  assert re.search(r'<pre class="failure" data-node="DataCheck">DataCheck: DataCheckFailed: the data check '
                   r'stopped the run before training \(span 3\)', page)
  assert '&lt;doc&amp;umentary&gt;' in page[page.index('id="anomaly-table"'):] and NEW_GENRE not in page
  assert open_in_browser(report_path, 'retraining-stopped-span.png')['errors'] == []
  summary = run_cli('summary', '--root', story['root'], '--run', third.run_id)
  assert 'failed      DataCheck' in summary.stdout and "drift in feature 'label'" in summary.stdout


def test_an_unchanged_rerun_is_served_from_the_cache(story):
  """Span 2 again (span 3 moved aside): every component cached, nothing trained or pushed."""
  os.rename(os.path.join(story['data'], 'span-3'), os.path.join(story['data'], 'held-back-span-3'))
  try:
    result = run_cli('run', 'sentiment', '--data', story['data'], '--root', story['root'], '--slice-columns',
                     'genre', *FLAGS, '--spans', '1')
  finally:
    os.rename(os.path.join(story['data'], 'held-back-span-3'), os.path.join(story['data'], 'span-3'))
  assert result.returncode == 0, result.stdout + result.stderr
  rerun = read_run_of_result(story['root'], result)
  resolvers = {'data_references', 'warm_start_model', 'latest_blessed_baseline'}
  assert set(rerun.nodes_in_state('COMPLETE')) <= resolvers, rerun.execution_states
  assert set(rerun.execution_states) - resolvers == set(rerun.nodes_in_state('CACHED'))
  assert 'Trainer' in rerun.nodes_in_state('CACHED') and not rerun.pushed_version()


def _answers(version_dir):
  model = tf.saved_model.load(version_dir)
  return model.signatures['classify_sentences'](text=tf.constant(SENTENCES))['probability'].numpy()


def test_rollback_serves_the_first_model_again_and_is_recorded(story):
  root = story['root']
  first, second = story['records'][:2]
  serving_root = os.path.join(root, 'serving', 'sentiment')
  before = run_cli('serving', 'sentiment', '--root', root)
  assert before.returncode == 0, before.stderr
  lines = before.stdout.splitlines()
  assert lines[1].split()[:3] == [second.pushed_version(), '*', second.run_id], before.stdout
  assert lines[2].split()[:2] == [first.pushed_version(), first.run_id], before.stdout

  result = run_cli('rollback', 'sentiment', '--root', root, '--keep-versions', '2')
  assert result.returncode == 0, result.stdout + result.stderr
  new_version = _served_versions(root)[-1]
  assert f'serving version {new_version}: a copy of version {first.pushed_version()}' in result.stdout
  # Serves span 1's model's answers again, not span 2's.
  np.testing.assert_allclose(_answers(os.path.join(serving_root, new_version)),
                             serving_history_answers(first), rtol=1e-6)
  assert not np.allclose(_answers(os.path.join(serving_root, new_version)),
                         _answers(os.path.join(serving_root, second.pushed_version())))
  # Retention kept two versions: the first copy is gone, the rollback and span 2's stay.
  assert _served_versions(root) == [second.pushed_version(), new_version]
  history = serving_history.serving_history(os.path.join(root, 'metadata.sqlite'), 'sentiment', serving_root)
  assert [(v.version, v.served, v.rollback_of, v.on_disk) for v in history] == [
      (new_version, True, first.pushed_version(), True), (second.pushed_version(), False, '', True),
      (first.pushed_version(), False, '', False)]
  listed = run_cli('serving', 'sentiment', '--root', root)
  assert f'rollback to {first.pushed_version()}' in listed.stdout and 'removed (retention)' in listed.stdout
  # Refusals change nothing.
  again = run_cli('rollback', 'sentiment', '--root', root, '--to', first.pushed_version())
  assert again.returncode == 2 and 'is already the served model' in again.stderr, again.stderr
  unknown = run_cli('rollback', 'sentiment', '--root', root, '--to', '123')
  assert unknown.returncode == 2 and '123' in unknown.stderr, unknown.stderr
  assert _served_versions(root) == [second.pushed_version(), new_version]


def serving_history_answers(record):
  """What a run's model answered: its Trainer's SavedModel, where it was pushed from."""
  return _answers(os.path.join(record.node_output('Trainer', 'model').uri, 'Format-Serving'))


def test_schedule_command_logs_its_start_and_stops_on_sigterm(story, tmp_path):
  """`tfx-lstm schedule` itself: it starts, names what it runs and its next tick, and SIGTERM ends it cleanly."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'cli', 'schedule', 'sentiment', '--cron', '0 3 * * *', '--data',
       story['data'], '--root', str(tmp_path / 'root'), '--slice-columns', 'genre', *FLAGS],
      cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  lines = []
  deadline = time.time() + 60
  while not any('runs: tfx-lstm run sentiment' in line for line in lines):
    assert process.poll() is None and time.time() < deadline, ''.join(lines) + process.stderr.read()
    lines.append(process.stdout.readline())
  process.send_signal(signal.SIGTERM)
  # Wait first, with a timeout: a scheduler that ignored SIGTERM fails the test instead of hanging it. Then read on
  # through the same file objects: communicate() reads the raw pipes and would lose what readline() buffered.
  status = process.wait(timeout=30)
  out, err = process.stdout.read(), process.stderr.read()
  assert status == 0, out + err
  text = ''.join(lines) + out
  assert '0 3 * * *' in text and '--data ' + story['data'] in text and '--cron' not in text.split('runs:')[1]
  assert 'scheduler stopped' in text


def test_span_three_accepted_with_a_curated_schema_and_raised_thresholds(story, tmp_path):
  """The way out of a stopped span: the first blessed run's schema, curated to know the new genre, and drift
  thresholds that accept the new label mix; pinned to span 3 (--span), two spans read, no warm start."""
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  first = story['records'][0]
  with open(os.path.join(first.node_output('SchemaGen', 'schema').uri, 'schema.pbtxt')) as f:
    schema = text_format.Parse(f.read(), schema_pb2.Schema())
  genre = next(d for d in schema.string_domain if d.name == 'genre')
  genre.value.append(NEW_GENRE)
  curated = tmp_path / 'schema.pbtxt'
  curated.write_text(text_format.MessageToString(schema))

  result = run_cli('run', 'sentiment', '--data', story['data'], '--root', story['root'], '--slice-columns', 'genre',
                   *FLAGS, '--span', '3', '--spans', '2', '--schema', str(curated), '--no-warm-start',
                   '--max-numeric-drift', '1.01', '--max-categorical-drift', '1.01')
  assert result.returncode == 0, result.stdout + result.stderr
  record = read_run_of_result(story['root'], result)
  assert 'spans 2-3 of 3 span folder(s)' in result.stdout
  assert record.node_output('FileBasedExampleGen', 'examples').custom_properties['spans_read'].string_value == '2,3'
  assert 'ImportSchemaGen' in record.nodes_in_state('COMPLETE') and 'SchemaGen' not in record.execution_states
  assert 'warm_start_model' not in record.execution_states  # not wired without warm start
  model_run = record.node_output('Trainer', 'model_run')
  assert not os.path.exists(os.path.join(model_run.uri, common.WARM_START_RECORD))
  check = json.load(open(os.path.join(record.node_output('DataCheck', 'result').uri, 'data_check.json')))
  assert check['passed'] and check['thresholds'] == {'categorical L-infinity': 1.01, 'numeric Jensen-Shannon': 1.01}
  assert check['data'] == 'spans 2-3'
  assert 'data check  passed: no anomalies' in result.stdout

  bad = tmp_path / 'bad.pbtxt'
  bad.write_text('feature { name: "text" type: BYTES }\nnot a field: 1\n')
  refused = run_cli('run', 'sentiment', '--data', story['data'], '--root', story['root'], '--schema', str(bad))
  assert refused.returncode == 2 and f'{bad} is not a schema in text format' in refused.stderr, refused.stderr
