"""Tier 3: the translate pipeline end to end on a slice of the bundled Tatoeba sample, and its bad input.

One run root is shared in order: a first run (every component executes, BLEU per slice, blessed, pushed),
then a run whose BLEU gate cannot pass (only the Evaluator and later re-run; nothing new is pushed).
"""
import glob
import os
import re

import pytest
import tensorflow as tf

from conftest import REPO, assert_ran_on_portable_runner, portable_beam_args, read_run_of, run_cli
from report_checks import assert_opens_cleanly_offline, assert_report_matches_tfma
from records import run_record
from records import evaluation

PIPELINE = 'tfx-lstm-translate'
NODES = {'FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataCheck', 'Transform', 'Trainer',
         'Evaluator', 'ServingSmokeTest', 'Pusher', 'EvalPredictions'}
# The attention decoder and beam search through the whole pipeline (Evaluator, smoke test, predict decode with it).
FAST = ['--epochs', '2', '--units', '32', '--embedding-dim', '16', '--replicas', '2', '--attention', 'luong',
        '--beam-size', '2']
SENTENCES = ['I am hungry.', 'Where is the station?', 'zzz qqq']
PAIRS = 3000


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('fra_eng')
  with open(os.path.join(REPO, 'data', 'fra_eng', 'fra_eng_sample.txt'), encoding='utf-8') as f:
    lines = f.read().splitlines()
  # Every pair of every 5th English sentence: short and longer sentences, with all their translations.
  order = {}
  for line in lines:
    order.setdefault(line.split('\t')[0], len(order))
  kept = [line for line in lines if order[line.split('\t')[0]] % 5 == 0][:PAIRS]
  (directory / 'pairs.txt').write_text('\n'.join(kept) + '\n', encoding='utf-8')
  (directory / '_about.txt').write_text('not a pair file; --pattern leaves it out\n', encoding='utf-8')
  return str(directory)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
  return str(tmp_path_factory.mktemp('translate_root'))


@pytest.fixture(scope='module')
def first_run(data_dir, root):
  # --min-bleu=-1: a 2-epoch model on 3,000 pairs tests the mechanics (its BLEU may be 0), not the quality.
  # Beam's PortableRunner (embedded job server, LOOPBACK workers): the module's tests then show that no Beam
  # component, BLEU metric included, depends on the in-process DirectRunner.
  result = run_cli('run', 'translate', '--data', data_dir, '--pattern', 'pairs*.txt', '--root', root,
                   '--min-bleu=-1', *FAST, *portable_beam_args(root))
  assert result.returncode == 0, result.stdout + result.stderr
  return result


def _versions(root):
  return sorted(glob.glob(os.path.join(root, 'serving', 'translate', '[0-9]*')))


@pytest.mark.e2e
def test_first_run_ran_on_the_portable_runner(first_run, root):
  assert_ran_on_portable_runner(root, first_run, ['FileBasedExampleGen', 'StatisticsGen', 'Transform', 'Evaluator'])


@pytest.mark.e2e
def test_every_component_executes_and_bleu_is_computed_per_slice(first_run, root):
  record = read_run_of(root, first_run)
  assert NODES <= {n for n, s in record.execution_states.items() if s == ['COMPLETE']}, record.execution_states
  assert run_record.artifact_property(record.output('ModelBlessing'), 'blessed') == 1
  assert run_record.artifact_property(record.output('PushedModel'), 'pushed') == 1
  assert len(_versions(root)) == 1
  assert f"tensorboard tensorboard --logdir {record.output('ModelRun').uri}" in first_run.stdout
  assert glob.glob(os.path.join(record.output('ModelRun').uri, 'train', 'events.out.tfevents.*'))
  assert re.search(r'\] Trainer +epoch 2/2  loss [\d.]+  eval loss [\d.]+', first_run.stdout)
  sliced = evaluation.sliced_metrics(record.output('ModelEvaluation').uri)
  assert 'bleu' in sliced[()] and 0.0 <= sliced[()]['bleu'] <= 100.0
  buckets = [key for key in sliced if key and key[0][0] == 'source_length_bucket']
  assert len(buckets) >= 2 and all('bleu' in sliced[key] for key in buckets)
  assert re.search(r'eval        BLEU \d+\.\d\d \(corpus, case-insensitive\) on [\d,]+ sentence pairs',
                   first_run.stdout), first_run.stdout
  assert re.search(r'by length   1-3 tokens: BLEU \d+\.\d\d \(n=\d+\)', first_run.stdout), first_run.stdout


@pytest.mark.e2e
def test_train_and_eval_never_share_a_source_sentence(first_run, root):
  examples = next(a for a in read_run_of(root, first_run).outputs['Examples'] if '/FileBasedExampleGen/' in a.uri)  # raw pairs
  sources = {}
  for split in ('train', 'eval'):
    files = glob.glob(os.path.join(examples.uri, f'Split-{split}', '*.gz'))
    records = tf.data.TFRecordDataset(files, compression_type='GZIP')
    sources[split] = [tf.train.Example.FromString(r.numpy()).features.feature['source'].bytes_list.value[0]
                      for r in records]
  assert len(sources['train']) + len(sources['eval']) == PAIRS
  assert 0.05 < len(sources['eval']) / PAIRS < 0.15
  assert not set(sources['train']) & set(sources['eval'])
  assert len(set(sources['eval'])) < len(sources['eval'])  # repeated sources went to eval together


@pytest.mark.e2e
def test_pushed_model_translates_raw_sentences_like_serving_default(first_run, root):
  model = tf.saved_model.load(_versions(root)[-1])
  from_sentences = model.signatures['translate_sentences'](source=tf.constant(SENTENCES))['translation'].numpy()
  assert from_sentences.shape == (3,) and all(isinstance(t, bytes) for t in from_sentences)
  assert all(b'[END]' not in t and b'[START]' not in t and b'[PAD]' not in t for t in from_sentences)
  examples = [tf.train.Example(features=tf.train.Features(feature={'source': tf.train.Feature(
      bytes_list=tf.train.BytesList(value=[s.encode()]))})).SerializeToString() for s in SENTENCES]
  from_examples = model.signatures['serving_default'](examples=tf.constant(examples))['translation'].numpy()
  assert list(from_sentences) == list(from_examples)


@pytest.mark.e2e
def test_predict_command(first_run, root):
  result = run_cli('predict', 'translate', '--model', os.path.join(root, 'serving', 'translate'), *SENTENCES[:2])
  assert result.returncode == 0, result.stderr
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 2 and lines[0].startswith('I am hungry.  =>  ') and lines[1].startswith(SENTENCES[1])
  wrong = run_cli('predict', 'sentiment', '--model', os.path.join(root, 'serving', 'translate'), 'I am hungry.')
  assert wrong.returncode == 2 and 'is a translate model, not a sentiment model' in wrong.stderr, wrong.stderr


@pytest.mark.e2e
def test_gate_that_cannot_pass_pushes_nothing(first_run, data_dir, root):
  before = _versions(root)
  result = run_cli('run', 'translate', '--data', data_dir, '--pattern', 'pairs*.txt', '--root', root,
                   '--min-bleu', '100', *FAST, *portable_beam_args(root))  # the same Beam args: same cache keys
  assert result.returncode == 0, result.stdout + result.stderr
  record = read_run_of(root, result)
  assert record.execution_states['Trainer'] == ['CACHED']  # only the gate changed
  assert run_record.artifact_property(record.output('ModelBlessing'), 'blessed') == 0
  assert 'blessed     NO' in result.stdout and 'needs >= 100' in result.stdout, result.stdout
  assert 'pushed      no (model not blessed)' in result.stdout
  assert _versions(root) == before
  # Its report says why, beside TFMA's numbers; the first run's report says blessed.
  page = open(os.path.join(root, 'reports', f'{record.run_id}.html'), encoding='utf-8').read()
  assert_report_matches_tfma(page, record.output('ModelEvaluation').uri)
  assert '<strong id="blessing">not blessed: bleu = ' in page and 'needs &gt;= 100' in page
  assert '<td class="FAIL">FAIL</td>' in page and 'no: the model was not blessed' in page


@pytest.mark.e2e
def test_report_shows_bleu_per_slice_and_sentence_translations(first_run, root):
  record = read_run_of(root, first_run)
  report = os.path.join(root, 'reports', f'{record.run_id}.html')
  assert f'  report      {report}' in first_run.stdout
  page = open(report, encoding='utf-8').read()
  values = assert_report_matches_tfma(page, record.output('ModelEvaluation').uri)
  assert any(metric == 'bleu' and slice_ != 'overall' for _, slice_, metric in values)
  assert '<strong id="blessing">blessed: ' in page
  for section in ('the first 10 eval pairs', 'the 10 best', 'the 10 worst', 'sentence BLEU', 'loss per epoch',
                  'BLEU, the gate metric, is computed by the Evaluator'):
    assert section in page, section
  assert_opens_cleanly_offline(report, 'report-translate.png', 'Evaluation', 'the 10 worst', 'Push')


@pytest.mark.parametrize('content,message', [
    (b'Go.\tVa !\nRun! Cours !\n', 'pairs.txt line 2: 1 field(s) (tab-separated, no quoting), expected 2 (source, target)'),
    (b'Go.\tVa !\n\tCours !\n', "pairs.txt line 2: empty 'source'"),
    (b'Go.\tVa !\nRun!\t \n', "pairs.txt line 2: empty 'target'"),
    (b'Go.\tVa !\n' + b'a' * 1200 + b'\tb\n', 'pairs.txt line 2: 1,202 characters, more than the 1,000 allowed'),
    (b'Go.\tVa !\nCaf\xe9.\tCaf\xe9 !\n', 'pairs.txt line 2: not valid UTF-8'),
    (b'', 'pairs.txt is empty'),
])
def test_bad_input_names_file_and_line_and_runs_nothing(tmp_path, content, message):
  data = tmp_path / 'data'
  os.makedirs(data)
  (data / 'pairs.txt').write_bytes(content)
  result = run_cli('run', 'translate', '--data', str(data), '--root', str(tmp_path / 'root'))
  assert result.returncode == 2, result.stdout + result.stderr
  assert message in result.stderr, result.stderr
  assert not os.path.exists(tmp_path / 'root' / 'metadata.sqlite')


def test_no_matching_files_is_a_clear_error(tmp_path):
  result = run_cli('run', 'translate', '--data', str(tmp_path), '--pattern', 'fra.txt', '--root', str(tmp_path / 'r'))
  assert result.returncode == 2 and f"no files match 'fra.txt' in {tmp_path}" in result.stderr, result.stderr
