"""How the pipeline's time and memory grow with the data: wall time, peak memory and rows per second of every
component, at several sizes, for one task; and TFX's stock CsvExampleGen on the same CSV rows, for comparison.

Usage: python -m bench.scale_bench --task forecast|sentiment --rows N [--rows N ...] --out DIR [--epochs 1]
       [-- pipeline flags]

Data is generated from the bundled samples (data/), so no --data is needed:
- forecast: N rows of several series, each the bundled Beijing PM2.5 rows (17,520 hours) with its own station
  name and its times shifted by as many hours as its number, 20 series to a CSV file;
- sentiment: N training sentences drawn (seeded) from the bundled SST-2 sample, and N/10 dev sentences.
Each size runs `tfx-lstm run TASK --epochs 1` in a fresh process while a sampler reads the resident memory of
that process and all its children every half second; a component's peak is the highest sample while it ran
(from its start to its end as the console reported them). For forecast, a separate process runs TFX's
CsvExampleGen alone on the same files under the same Beam settings, sampled the same way.

Writes DIR/scale.json: per size, the whole run's wall time and, per component, `wall_s`, `peak_rss_mb` (the
process tree) and `rows_per_s` (the size's input rows over the component's wall time); `csv_example_gen` the same
for TFX's ExampleGen. Prints a Markdown table for bench/README.md.
"""
import argparse
import csv
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import threading
import time
from typing import Dict, List, Sequence, Tuple

from bench import common as bench_common

REPO = bench_common.REPO
SAMPLE_SECONDS = 0.5
SERIES_PER_FILE = 20
BEIJING = REPO / 'data' / 'beijing_pm25' / 'beijing_pm25_2013_2014.csv'
SST2 = REPO / 'data' / 'sst2'
BEAM_ARGS = ('--direct_running_mode=in_memory', '--direct_num_workers=1')  # what `tfx-lstm run` uses by default


# ----------------------------------------------------------------------------------------------------
# Data.

def write_forecast(directory: pathlib.Path, rows: int) -> List[str]:
  """`rows` rows of shifted copies of the bundled series (column `station`), SERIES_PER_FILE series a file;
  returns the pipeline flags that read them."""
  import datetime  # pylint: disable=g-import-not-at-top
  with open(BEIJING, newline='', encoding='utf-8') as f:
    reader = csv.reader(f)
    header = next(reader)
    base = list(reader)
  stamp = header.index('datetime')
  directory.mkdir(parents=True)
  written, series = 0, 0
  while written < rows:
    path = directory / f'stations-{series // SERIES_PER_FILE:04d}.csv'
    with open(path, 'a', newline='', encoding='utf-8') as f:
      writer = csv.writer(f)
      if series % SERIES_PER_FILE == 0:
        writer.writerow([*header, 'station'])
      shift = datetime.timedelta(hours=series)
      for row in base[:rows - written]:
        moved = list(row)
        moved[stamp] = (datetime.datetime.fromisoformat(row[stamp]) + shift).isoformat(sep=' ')
        writer.writerow([*moved, f's{series:05d}'])
      written += min(len(base), rows - written)
    series += 1
  return ['--series-column', 'station']


def write_sentiment(directory: pathlib.Path, rows: int) -> List[str]:
  """`rows` training sentences and rows // 10 dev sentences drawn from the bundled SST-2 sample."""
  pool = []
  for name in ('train.tsv', 'dev.tsv'):
    with open(SST2 / name, encoding='utf-8') as f:
      next(f)
      pool += [line.rstrip('\n') for line in f if line.strip()]
  draw = random.Random(17)
  directory.mkdir(parents=True)
  for name, count in (('train.tsv', rows), ('dev.tsv', max(rows // 10, 100))):
    with open(directory / name, 'w', encoding='utf-8') as f:
      f.write('text\tlabel\n')
      for _ in range(count):
        f.write(draw.choice(pool) + '\n')
  return []


WRITERS = {'forecast': write_forecast, 'sentiment': write_sentiment}


# ----------------------------------------------------------------------------------------------------
# Measuring a process tree.

class TreeSampler:
  """Samples (time, resident bytes of a process and its children) every SAMPLE_SECONDS in a thread."""

  def __init__(self, pid: int):
    import psutil  # pylint: disable=g-import-not-at-top
    self._process, self.samples = psutil.Process(pid), []
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()

  def _rss(self) -> int:
    import psutil  # pylint: disable=g-import-not-at-top
    total = 0
    for p in [self._process, *self._process.children(recursive=True)]:
      try:
        total += p.memory_info().rss
      except psutil.Error:
        pass
    return total

  def _run(self) -> None:
    while not self._stop.is_set():
      try:
        self.samples.append((time.time(), self._rss()))
      except Exception:  # pylint: disable=broad-except  (the process ended)
        return
      self._stop.wait(SAMPLE_SECONDS)

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()

  def peak_mb(self, start: float, end: float) -> float:
    inside = [rss for t, rss in self.samples if start <= t <= end]
    return round(max(inside) / 2**20) if inside else None


def run_measured(command: Sequence[str], log_path: pathlib.Path) -> Tuple[List[Tuple[float, str]], TreeSampler, float]:
  """Runs `command`, sampling its tree; returns (time each output line arrived, line) pairs, the sampler, wall s."""
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1', PYTHONUNBUFFERED='1')
  started = time.time()
  lines = []
  with open(log_path, 'w', encoding='utf-8') as log:
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    sampler = TreeSampler(process.pid)
    for line in process.stdout:
      lines.append((time.time(), line))
      log.write(line)
    status = process.wait()
    sampler.stop()
  if status:
    raise SystemExit(f'{" ".join(command[:6])} ... failed (exit status {status}); see {log_path}')
  return lines, sampler, time.time() - started


def component_measures(lines, sampler: TreeSampler, rows: int) -> Dict[str, dict]:
  """Per component line of `tfx-lstm run` (written when the component ends, with its duration)."""
  measures = {}
  for arrived, line in lines:
    parsed = bench_common.parse_cli_output(line)['components']
    if parsed:
      (component,) = parsed
      seconds = component['seconds']
      measures[component['name']] = {
          'wall_s': seconds, 'peak_rss_mb': sampler.peak_mb(arrived - seconds - SAMPLE_SECONDS, arrived),
          'rows_per_s': round(rows / seconds) if seconds else None}
  return measures


_CSV_EXAMPLE_GEN = (
    'import sys, time\n'
    'from tfx import v1 as tfx\n'
    'from tfx.orchestration.local.local_dag_runner import LocalDagRunner\n'
    'data, root, *beam = sys.argv[1:]\n'
    'gen = tfx.components.CsvExampleGen(input_base=data)\n'
    'pipeline = tfx.dsl.Pipeline(pipeline_name="csv-example-gen", pipeline_root=root, components=[gen],\n'
    '    metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(root + "/m.db"),\n'
    '    beam_pipeline_args=beam, enable_cache=False)\n'
    'print("started", time.time(), flush=True)\n'
    'LocalDagRunner().run(pipeline)\n'
    'print("ended", time.time(), flush=True)\n')


def csv_example_gen(data: pathlib.Path, work: pathlib.Path, rows: int) -> dict:
  """TFX's CsvExampleGen alone on `data` (the program is a constant; the paths are its arguments)."""
  shutil.rmtree(work, ignore_errors=True)
  work.mkdir(parents=True)
  lines, sampler, _ = run_measured([sys.executable, '-c', _CSV_EXAMPLE_GEN, str(data), str(work), *BEAM_ARGS],
                                   work / 'csv_example_gen.log')
  times = {line.split()[0]: float(line.split()[1]) for _, line in lines if line.startswith(('started', 'ended'))}
  seconds = times['ended'] - times['started']
  return {'wall_s': round(seconds, 1), 'peak_rss_mb': sampler.peak_mb(times['started'], times['ended']),
          'rows_per_s': round(rows / seconds)}


def measure_size(task: str, rows: int, out: pathlib.Path, epochs: int, flags: Sequence[str]) -> dict:
  data, root = out / f'data-{rows}', out / f'root-{rows}'
  shutil.rmtree(data, ignore_errors=True)
  shutil.rmtree(root, ignore_errors=True)
  task_flags = WRITERS[task](data, rows)
  data_bytes = sum(p.stat().st_size for p in data.iterdir())
  command = [sys.executable, '-m', 'cli', 'run', task, '--data', str(data), '--root', str(root), '--epochs',
             str(epochs), *task_flags, *flags]
  lines, sampler, seconds = run_measured(command, out / f'run-{rows}.log')
  result = {'rows': rows, 'data_mb': round(data_bytes / 2**20, 1), 'wall_s': round(seconds, 1),
            'peak_rss_mb': sampler.peak_mb(0, float('inf')),
            'components': component_measures(lines, sampler, rows)}
  if task == 'forecast':
    result['csv_example_gen'] = csv_example_gen(data, out / f'csv-{rows}', rows)
  shutil.rmtree(root, ignore_errors=True)  # the next size's disk
  print(json.dumps({k: result[k] for k in ('rows', 'data_mb', 'wall_s', 'peak_rss_mb')}), flush=True)
  return result


TABLE_COMPONENTS = ('FileBasedExampleGen', 'StatisticsGen', 'TimeSeriesWindowGen', 'Transform', 'Trainer',
                    'Evaluator')


def table(task: str, results: List[dict]) -> str:
  """Markdown: per size and component, wall time, peak memory and rows per second."""
  header = ['rows', 'data', 'run']
  names = [n for n in TABLE_COMPONENTS if any(n in r['components'] for r in results)]
  header += [f'{n} s / MB' for n in names] + (['CsvExampleGen s / MB'] if task == 'forecast' else [])
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in results:
    cells = [f"{r['rows']:,}", f"{r['data_mb']} MB", f"{r['wall_s']:.0f} s"]
    for name in names:
      c = r['components'].get(name)
      cells.append(f"{c['wall_s']:.1f} / {c['peak_rss_mb']}" if c else '')
    if task == 'forecast':
      c = r.get('csv_example_gen')
      cells.append(f"{c['wall_s']:.1f} / {c['peak_rss_mb']}" if c else '')
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--task', choices=sorted(WRITERS), required=True)
  parser.add_argument('--rows', type=int, action='append', required=True, help='a size, repeatable')
  parser.add_argument('--out', type=pathlib.Path, required=True)
  parser.add_argument('--epochs', type=int, default=1)
  parser.add_argument('pipeline_flags', nargs='*', help='extra `tfx-lstm run` flags (after --)')
  args = parser.parse_args(argv)
  args.out.mkdir(parents=True, exist_ok=True)
  results = [measure_size(args.task, rows, args.out, args.epochs, args.pipeline_flags)
             for rows in sorted(args.rows)]
  (args.out / 'scale.json').write_text(json.dumps({'task': args.task, 'epochs': args.epochs,
                                                   'flags': args.pipeline_flags, 'sizes': results}, indent=1))
  print(table(args.task, results))
  return 0


if __name__ == '__main__':
  sys.exit(main())
