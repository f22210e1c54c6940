"""Smoke tests of the bench scripts (bench/*_bench.py): each one end to end, in a fresh process as a user runs
it, on tiny data this file writes laid out like the full-data `--data` directory (from the bundled samples in
data/), with one epoch, few rows and few timed calls. They check that the scripts still run against the current
CLI, its console output and the run records, and write their results; not the numbers.

The bench processes run two at a time (one per core) from when the first end-to-end test here asks for one;
each test waits for its own. Three pipelines run (one per task), not four: forecast_bench re-scores
(`--reuse`) the run the Beam bench made with forecast_bench's own data preparation and pipeline flags, and the
Beam bench runs one Beam set-up instead of two (see BEAM_MODE). Not covered end to end: the sentiment bench's
comparison with TFX's own IMDB example's side (`--part imdb`), which runs that example's pipeline with its fixed
500 training steps and multi-processing Beam (about 2 minutes); our side of it runs here (`--part imdb-ours`: our
pipeline on the example's 100 reviews, a hundred rows of free text that must pass the data check). The windowing bench needs no
--data (it generates its series): it runs here on 500 rows, in memory only, both windowing paths and the Transform.
"""
import csv
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
BUNDLED = REPO / 'data'
TIMEOUT = 1200  # seconds per bench process; they take 1-3 minutes here, more when other tests share the cores

# Tiny Beijing data: two stretches of the bundled 2013-2014 sample around the benchmark's split dates
# (eval from 2013-07-01, test from 2014-01-01), so the benchmark runs with its own flags. The gap between them
# is dropped by the windowing like any other gap.
BEIJING_STRETCHES = (('2013-06-18', '2013-07-05'), ('2013-12-24', '2014-01-05'))
SENTIMENT_TRAIN_ROWS, SENTIMENT_DEV_ROWS = 400, 80
TRANSLATE_LINES, TRANSLATE_PAIRS = 600, 500
WINDOWING_ROWS = 500
SCALE_ROWS = 1500  # of the scale bench's generated forecast series

TINY = ['--epochs', '1', '--throughput-epochs', '2']
REPORT_SLICES = 10  # topic values in the report bench's run (100 on the full data)
# The Beam benchmark runs one set-up here, with Beam flags so that they are passed through --beam-arg, but in
# threads: multi-processing Beam costs about 80 s more CPU on tiny data (worker processes start per stage)
# without exercising more of the script; its loop over set-ups and its table are tested without a pipeline.
BEAM_MODE, BEAM_ARGS = 'multi_threading_2', ('--direct_running_mode=multi_threading', '--direct_num_workers=2')


def _write_tiny_beijing(path: pathlib.Path) -> int:
  """Bundled rows of BEIJING_STRETCHES in the source's layout (year, month, day, hour columns; NA)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  rows = 0
  with open(BUNDLED / 'beijing_pm25' / 'beijing_pm25_2013_2014.csv', newline='') as src, \
       open(path, 'w', newline='') as dst:
    writer = csv.writer(dst, lineterminator='\r\n')
    writer.writerow(['No', 'year', 'month', 'day', 'hour', 'pm2.5', 'DEWP', 'TEMP', 'PRES', 'cbwd', 'Iws', 'Is',
                     'Ir'])
    for row in csv.DictReader(src):
      day = row['datetime'][:10]
      if not any(start <= day < end for start, end in BEIJING_STRETCHES):
        continue
      rows += 1
      year, month, rest = row['datetime'].split('-')
      writer.writerow([rows, int(year), int(month), int(rest[:2]), int(rest[3:5])]
                      + [row[c] or 'NA' for c in ('pm2.5', 'DEWP', 'TEMP', 'PRES', 'cbwd', 'Iws', 'Is', 'Ir')])
  return rows


def _write_tiny_sst2(directory: pathlib.Path) -> None:
  """Leading rows of the bundled SST-2 sample with the source's header (sentence, label)."""
  directory.mkdir(parents=True, exist_ok=True)
  for name, keep in (('train.tsv', SENTIMENT_TRAIN_ROWS), ('dev.tsv', SENTIMENT_DEV_ROWS)):
    lines = (BUNDLED / 'sst2' / name).read_text(encoding='utf-8').splitlines()
    (directory / name).write_text('\n'.join(['sentence\tlabel'] + lines[1:keep + 1]) + '\n', encoding='utf-8')


def _write_tiny_fra(path: pathlib.Path) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  lines = (BUNDLED / 'fra_eng' / 'fra_eng_sample.txt').read_text(encoding='utf-8').splitlines()
  path.write_text('\n'.join(lines[:TRANSLATE_LINES]) + '\n', encoding='utf-8')


def make_tiny_data(directory: pathlib.Path) -> pathlib.Path:
  """A --data directory with tiny versions of the three full datasets, at the paths the scripts read."""
  from bench import common  # pylint: disable=g-import-not-at-top
  _write_tiny_beijing(directory / common.BEIJING_CSV)
  _write_tiny_sst2((directory / common.SST2_TRAIN).parent)
  _write_tiny_fra(directory / common.FRA_ENG_TXT)
  return directory


def _bench_command(script: str, *args: str):
  return [sys.executable, '-m', f'bench.{script}', *args]


def _bench_commands(data: pathlib.Path, work: pathlib.Path):
  """Each script's command line on the tiny data, writing under `work`."""
  return {
      # Re-scores the Beam bench's run (the same `tfx-lstm run forecast` flags, from forecast_bench's own
      # prepare_data/pipeline_flags) instead of running a third forecast pipeline.
      'forecast_bench': _bench_command(
          'forecast_bench', '--reuse', '--out', str(work / 'beam' / BEAM_MODE), '--throughput-epochs', '2'),
      'sentiment_bench': _bench_command(
          'sentiment_bench', '--data', str(data), '--out', str(work / 'sentiment'),
          '--part', 'quality,throughput,imdb-ours', '--imdb-epochs', '1', '--latency-calls', '20', *TINY, '--',
          '--vocab-size', '500', '--units', '8', '--min-auc', '0'),
      'translate_bench': _bench_command(
          'translate_bench', '--data', str(data), '--out', str(work / 'translate'), '--pairs', str(TRANSLATE_PAIRS),
          '--latency-calls', '5', '--part', 'ours,seed,throughput,beams', '--beam-sizes', '1,2', *TINY, '--',
          '--units', '16', '--embedding-dim', '16', '--min-bleu', '-1', '--beam-size', '2'),
      'beam_bench': _bench_command(
          'beam_bench', '--data', str(data), '--out', str(work / 'beam'), '--results',
          str(work / 'beam_results.json'), '--epochs', '1',
          '--mode', f'{BEAM_MODE}={" ".join(BEAM_ARGS)}',
          # The tiny file joins two stretches of the year: a 172-day gap the full data does not have.
          '--', '--units', '8', '--min-skill', '-1000', '--max-gap-steps', '0'),
      'report_bench': _bench_command(
          'report_bench', '--data', str(data), '--out', str(work / 'report'), '--results',
          str(work / 'report_results.json'), '--slices', str(REPORT_SLICES), '--loads', '2',
          '--', '--units', '8', '--embedding-dim', '8', '--vocab-size', '500', '--min-auc', '0'),
      'scale_bench': _bench_command(
          'scale_bench', '--task', 'forecast', '--rows', str(SCALE_ROWS), '--out', str(work / 'scale'), '--',
          '--units', '8', '--min-skill', '-1000'),
      'windowing_bench': _bench_command(
          'windowing_bench', '--sizes', str(WINDOWING_ROWS), '--modes', 'in_memory', '--transform-max-rows',
          str(WINDOWING_ROWS), '--reference-max-rows', str(WINDOWING_ROWS), '--out', str(work / 'windowing'),
          '--results', str(work / 'windowing_results.json')),
  }


# ----------------------------------------------------------------------------------------------------
# Fast checks (no pipeline).

SCRIPTS = ['forecast_bench', 'sentiment_bench', 'translate_bench', 'beam_bench', 'report_bench']


@pytest.mark.parametrize('script', SCRIPTS)
def test_missing_data_is_an_error_naming_the_layout(script, tmp_path):
  result = subprocess.run(_bench_command(script, '--data', str(tmp_path / 'absent')), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2, result.stdout + result.stderr
  assert 'not found' in result.stderr and 'bench/README.md' in result.stderr, result.stderr


@pytest.mark.parametrize('script', SCRIPTS)
def test_data_flag_has_no_default(script):
  result = subprocess.run(_bench_command(script), cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and '--data DIR is required' in result.stderr, result.stdout + result.stderr


def test_make_bench_without_the_data_directory_fails_clearly(tmp_path):
  # -o: never (re)install the venv from this test.
  result = subprocess.run(['make', '-s', '-o', '.venv/.installed', 'bench', f'DATA={tmp_path / "absent"}'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode != 0
  assert str(tmp_path / 'absent') in result.stderr and 'bench/README.md' in result.stderr, result.stderr


def test_no_bench_file_points_at_a_shared_folder():
  for path in sorted((REPO / 'bench').glob('*.py')) + [REPO / 'bench' / 'README.md']:
    assert 'shared' not in path.read_text(encoding='utf-8'), path


def test_cli_output_parsing():
  from bench import common  # pylint: disable=g-import-not-at-top
  text = ('tfx-lstm forecast: 1,800 rows in 1 file(s) of /d\n'
          '  run forecast-20261126T101500-3fa2\n'
          '  full log: /r/logs/forecast-20261126T101500-3fa2.log\n'
          '  [ 1/12] FileBasedExampleGen        done      1.8s\n'
          '  [ 7/12] Trainer                    epoch 1/2  loss 0.0154  eval mae 0.2033  3s left\n'
          '  [ 7/12] Trainer                    done     26.7s\n'
          '  [12/12] ForecastTestScore          cached    0.7s\n'
          'pipeline finished in 69s\n'
          'summary of run forecast-20261126T101500-3fa2\n')
  parsed = common.parse_cli_output(text)
  assert parsed['run_id'] == 'forecast-20261126T101500-3fa2'
  assert parsed['pipeline_seconds'] == 69
  assert parsed['components'] == [
      {'index': 1, 'name': 'FileBasedExampleGen', 'status': 'done', 'seconds': 1.8},
      {'index': 7, 'name': 'Trainer', 'status': 'done', 'seconds': 26.7},
      {'index': 12, 'name': 'ForecastTestScore', 'status': 'cached', 'seconds': 0.7}]


def test_beam_bench_table():
  from bench import beam_bench  # pylint: disable=g-import-not-at-top
  component = lambda name, seconds: {'index': 1, 'name': name, 'status': 'done', 'seconds': seconds}  # noqa: E731
  modes = [{'name': name, 'components': [component('Transform', t), component('Trainer', 20.0)],
            'beam_components_seconds': t, 'components_seconds': t + 20, 'pipeline_seconds': t + 25,
            'process_seconds': t + 30} for name, t in (('in_memory', 10.0), ('multi_processing_2', 30.0))]
  text = beam_bench.table(modes)
  assert '| component | in_memory | multi_processing_2 |' in text
  assert '| Transform (Beam) | 10.0 s | 30.0 s |' in text and '| Trainer | 20.0 s | 20.0 s |' in text
  assert beam_bench.parse_mode('in_memory=') == ('in_memory', ())
  assert beam_bench.parse_mode('mp=--a=1 --b=2') == ('mp', ('--a=1', '--b=2'))


def test_windowing_bench_series_and_table(tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bench import windowing_bench  # pylint: disable=g-import-not-at-top
  path = tmp_path / 'rows.tfrecord'
  assert windowing_bench.write_series(path, 300) == 300
  examples = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
  assert len(examples) == 300
  assert set(examples[0].features.feature) == {'datetime', *windowing_bench.NUMERIC, *windowing_bench.CATEGORICAL}
  stamps = [e.features.feature['datetime'].bytes_list.value[0] for e in examples]
  assert stamps[:2] == [b'2010-01-01 03:00:00', b'2010-01-01 04:00:00']  # hours 0-2: the first gap
  assert sum(not e.features.feature['pm2.5'].int64_list.value for e in examples) == 0  # first stretch at 980
  record = lambda rows, mode, block_steps, seconds, peak: {  # noqa: E731
      'rows': rows, 'mode': mode, 'block_steps': block_steps, 'windowing_seconds': seconds,
      'transform_seconds': None, 'peak_rss_mb': {'windowing': peak},
      'rows_per_group': {'max': min(rows, 4120) if block_steps else rows}}
  records = [record(10**4, 'in_memory', 4096, 2.0, 600), record(10**6, 'in_memory', 4096, 150.0, 900),
             record(10**6, 'in_memory', 0, 120.0, 3000)]
  text = windowing_bench.table(records)
  assert '| 1,000,000 | blocks of 4096 | 4,120 rows | 150.0 s | 900 |  |  |' in text
  assert '| 1,000,000 | whole series (before) | 1,000,000 rows | 120.0 s | 3,000 |  |  |' in text
  assert windowing_bench.growth(records) == {
      'in_memory': {'1000000': {'rows_ratio': 100.0, 'time_ratio': 75.0, 'peak_ratio': 1.5}}}


def test_imdb_reviews_become_tab_separated_rows(tmp_path):
  from bench import sentiment_bench  # pylint: disable=g-import-not-at-top
  imdb = pathlib.Path(importlib.util.find_spec('tfx.examples.imdb').submodule_search_locations[0])
  rows = sentiment_bench.imdb_reviews_to_tsv(imdb / 'data' / 'imdb_small_with_labels.txt', tmp_path / 'r.tsv')
  lines = (tmp_path / 'r.tsv').read_text(encoding='utf-8').splitlines()
  assert rows == 100 and len(lines) == 101 and lines[0] == 'text\tlabel'
  assert all(re.fullmatch(r'[^\t]+\t[01]', line) for line in lines[1:])


def test_tiny_data_has_the_full_data_layout(tmp_path):
  from bench import common  # pylint: disable=g-import-not-at-top
  data = make_tiny_data(tmp_path)
  assert common.require_data(data, common.BEIJING_CSV, common.SST2_TRAIN, common.SST2_DEV, common.FRA_ENG_TXT)
  header = (data / common.BEIJING_CSV).read_text().splitlines()[0]
  assert header == 'No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir'
  assert (data / common.SST2_DEV).read_text().startswith('sentence\tlabel\n')


# ----------------------------------------------------------------------------------------------------
# End to end: every bench script on the tiny data.

class _BenchJobs:
  """Runs the bench commands, two at a time (one per core: more would only make TensorFlow's thread pools
  contend), each job once the jobs it needs have finished; a test waits for its own job."""

  SLOTS = 2

  def __init__(self, commands, needs, work: pathlib.Path):
    self.work, self.commands, self.needs = work, commands, needs
    self.status, self.done = {}, {name: threading.Event() for name in commands}
    self.processes, self.lock, self.stopping = {}, threading.Lock(), False
    self.pending = list(commands)  # in start order
    self.threads = [threading.Thread(target=self._slot, daemon=True) for _ in range(self.SLOTS)]
    for thread in self.threads:
      thread.start()

  def _next(self):
    while True:
      with self.lock:
        if self.stopping or not self.pending:
          return None
        for name in self.pending:
          if all(self.done[n].is_set() for n in self.needs.get(name, ())):
            self.pending.remove(name)
            return name
      time.sleep(0.5)

  def _slot(self):
    env = dict(os.environ, TF_USE_LEGACY_KERAS='1', PYTHONUNBUFFERED='1')
    while True:
      name = self._next()
      if name is None:
        return
      failed = [n for n in self.needs.get(name, ()) if self.status[n] != 0]
      if failed:
        self.status[name] = f'not run: {failed} failed'
        self.done[name].set()
        continue
      started = time.time()
      with open(self.work / f'{name}.log', 'w') as log:
        process = subprocess.Popen(self.commands[name], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.processes[name] = process
        try:
          self.status[name] = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
          self.status[name] = f'timeout after {TIMEOUT}s'
      print(f'{name}: {time.time() - started:.0f}s', file=sys.stderr)
      self.done[name].set()

  def wait(self, name: str) -> str:
    """The job's output once it has finished; fails the test if the job failed."""
    self.done[name].wait()
    output = (self.work / f'{name}.log').read_text() if (self.work / f'{name}.log').exists() else ''
    assert self.status[name] == 0, f'{name}: exit status {self.status[name]}:\n{output[-6000:]}'
    return output

  def stop(self):
    with self.lock:
      self.stopping = True
    for process in self.processes.values():
      if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope='module')
def launched(tmp_path_factory):
  work = tmp_path_factory.mktemp('bench_smoke')
  commands = _bench_commands(make_tiny_data(work / 'data'), work)
  # Start order balances the two slots: translate, then forecast (re-scoring the Beam bench's run) on one;
  # the Beam bench, then sentiment and the report bench, on the other; the windowing bench (about a minute) last.
  jobs = _BenchJobs({name: commands[name] for name in ('translate_bench', 'beam_bench', 'sentiment_bench',
                                                      'forecast_bench', 'report_bench', 'windowing_bench',
                                                      'scale_bench')},
                    {'forecast_bench': ('beam_bench',)}, work)
  yield jobs
  jobs.stop()


def _results(path: pathlib.Path) -> dict:
  return json.loads(path.read_text())


@pytest.mark.e2e
def test_beam_bench(launched):
  output = launched.wait('beam_bench')
  results = _results(launched.work / 'beam_results.json')
  assert results == _results(launched.work / 'beam' / 'results.json')
  assert results['machine']['nproc'] >= 1 and results['rows'] > 0
  (mode,) = results['modes']
  assert mode['name'] == BEAM_MODE and mode['beam_args'] == list(BEAM_ARGS)
  components = {c['name']: c for c in mode['components']}
  assert {'FileBasedExampleGen', 'Transform', 'Trainer', 'Evaluator', 'Pusher'} <= set(components), mode
  assert all(c['status'] == 'done' for c in components.values())
  assert mode['run_id'].startswith('forecast-') and mode['beam_components_seconds'] > 0
  assert mode['pipeline_seconds'] > 0 and mode['process_seconds'] >= mode['pipeline_seconds'] - 1  # rounded
  # The Beam flags reached the Beam components (the run's log records their pipeline options).
  log = (launched.work / 'beam' / BEAM_MODE / 'root' / 'logs' / f"{mode['run_id']}.log").read_text()
  assert 'multi_threading' in log
  assert f'| component | {BEAM_MODE} |' in output and '| Transform (Beam) |' in output


@pytest.mark.e2e
def test_forecast_bench(launched):
  launched.wait('forecast_bench')
  results = _results(launched.work / 'beam' / BEAM_MODE / 'results.json')
  assert results['run_id'] == _results(launched.work / 'beam_results.json')['modes'][0]['run_id']
  assert results['test_windows'] > 0 and results['mae'] > 0 and results['persistence_mae'] > 0
  assert results['train_windows'] > 0 and results['throughput_ratio_batch32'] > 0
  assert results['pushed'] is True


@pytest.mark.e2e
def test_sentiment_bench(launched):
  launched.wait('sentiment_bench')
  results = _results(launched.work / 'sentiment' / 'results.json')
  assert results['run_id'].startswith('sentiment-')
  assert results['dev_sentences'] == SENTIMENT_DEV_ROWS and 0 <= results['dev_accuracy'] <= 1
  assert results['latency_ms_p50'] > 0 and 0 < results['train_sentences'] <= SENTIMENT_TRAIN_ROWS
  assert results['throughput_ratio'] > 0
  # A hundred reviews of free text pass the data check and are trained and evaluated (SchemaGen gave the text
  # column a closed domain of the training reviews, and every eval review was "missing from the schema").
  assert results['imdb_ours_run_id'].startswith('sentiment-') and results['imdb_ours_eval_examples'] > 0
  assert 0 <= results['imdb_ours_accuracy'] <= 1


@pytest.mark.e2e
def test_translate_bench(launched):
  launched.wait('translate_bench')
  results = _results(launched.work / 'translate' / 'results.json')
  assert results['run_id'].startswith('translate-') and results['pairs'] == TRANSLATE_PAIRS
  assert results['train_pairs'] + results['eval_pairs'] == TRANSLATE_PAIRS
  for key in ('ours_bleu', 'seed_bleu', 'ours_latency_ms_p50', 'seed_latency_ms_p50', 'throughput_ratio'):
    assert results[key] >= 0, key
  assert (launched.work / 'translate' / 'seed_translations.txt').exists()
  # The beams part rebuilds the trained model from its saved weights: at the pushed model's beam size it
  # translates every held-out sentence as the pushed model did.
  assert results['beam_run_id'] == results['run_id']
  assert results['beam2_bleu'] == pytest.approx(results['ours_bleu']) and results['beam1_bleu'] >= 0
  pushed, rebuilt = (launched.work / 'translate' / name for name in ('ours_translations.txt', 'beam2_translations.txt'))
  assert rebuilt.read_text(encoding='utf-8') == pushed.read_text(encoding='utf-8')


@pytest.mark.e2e
def test_report_bench(launched):
  launched.wait('report_bench')
  results = _results(launched.work / 'report_results.json')
  assert results['run_id'].startswith('sentiment-') and results['topic_values'] == REPORT_SLICES
  assert results['slices'] >= REPORT_SLICES + 1  # the topics, overall and the length buckets
  assert results['html_bytes'] > 0 and results['report_write_seconds'] > 0
  assert len(results['browser_load_ms']) == 2 and results['browser_problems'] == []
  page = (launched.work / 'report' / f"{results['run_id']}.html").read_text(encoding='utf-8')
  assert f'topic = topic-{REPORT_SLICES - 1:03d}' in page


@pytest.mark.e2e
def test_windowing_bench(launched):
  output = launched.wait('windowing_bench')
  results = _results(launched.work / 'windowing_results.json')
  assert results == _results(launched.work / 'windowing' / 'results.json')
  by_path = {r['block_steps']: r for r in results['records']}
  assert set(by_path) == {results['block_steps'], 0} and results['block_steps'] > 0
  blocks, whole = by_path[results['block_steps']], by_path[0]
  assert blocks['windows'] == whole['windows'] and blocks['windows']['train'] > 0 and blocks['errors'] == []
  assert blocks['windowing_seconds'] > 0 and blocks['transform_seconds'] > 0 and whole['transform_seconds'] is None
  assert blocks['peak_rss_mb']['windowing'] > 0 and blocks['peak_rss_mb']['transform'] > 0
  assert blocks['rows_per_group']['max'] <= WINDOWING_ROWS == whole['rows_per_group']['max']
  assert f'| {WINDOWING_ROWS} | blocks of {results["block_steps"]} |' in output


@pytest.mark.e2e
def test_scale_bench(launched):
  output = launched.wait('scale_bench')
  results = _results(launched.work / 'scale' / 'scale.json')
  (size,) = results['sizes']
  assert results['task'] == 'forecast' and size['rows'] == SCALE_ROWS and size['wall_s'] > 0
  components = size['components']
  assert {'FileBasedExampleGen', 'TimeSeriesWindowGen', 'Transform', 'Trainer'} <= set(components)
  for name, measured in components.items():
    assert measured['wall_s'] >= 0 and (measured['peak_rss_mb'] or 0) > 0, name
  assert size['csv_example_gen']['peak_rss_mb'] > 0 and size['csv_example_gen']['rows_per_s'] > 0
  assert f'| {SCALE_ROWS:,} |' in output and 'CsvExampleGen s / MB' in output


def test_scale_bench_data_is_drawn_from_the_bundled_samples(tmp_path):
  from bench import scale_bench  # pylint: disable=g-import-not-at-top
  flags = scale_bench.write_forecast(tmp_path / 'forecast', 17_520 + 100)
  files = sorted((tmp_path / 'forecast').iterdir())
  with open(files[0], newline='') as f:
    rows = list(csv.DictReader(f))
  assert flags == ['--series-column', 'station'] and len(files) == 1 and len(rows) == 17_620
  assert rows[0]['datetime'] == '2013-01-01 00:00:00' and rows[17_520]['datetime'] == '2013-01-01 01:00:00'
  assert {r['station'] for r in rows} == {'s00000', 's00001'}
  scale_bench.write_sentiment(tmp_path / 'sentiment', 1000)
  train = (tmp_path / 'sentiment' / 'train.tsv').read_text().splitlines()
  assert train[0] == 'text\tlabel' and len(train) == 1001 and all(re.fullmatch(r'[^\t]+\t[01]', l) for l in train[1:])
