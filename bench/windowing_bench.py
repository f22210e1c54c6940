"""Windowing benchmark: TimeSeriesWindowGen's Beam pipeline, and the forecast Transform on its windows, on a
generated hourly series of 10^4 to 5·10^6 rows, with the DirectRunner in memory (one worker) and in
multi-processing mode (two workers): wall time and peak memory per series length. Results go in bench/README.md.

The series has the forecast task's columns (the Beijing PM2.5 data's: datetime, pm2.5, DEWP, TEMP, PRES, cbwd,
Iws, Is, Ir), pm2.5 missing for 20 hours in every 1,000 and a 3-hour gap every 10,000 rows. It is written once
per length as row examples (as ExampleGen writes them, a TFRecord file) under --out, and reused.

Each (length, set-up) runs in a fresh process: the component's Beam pipeline (`windowing_pipeline`: read, parse,
window, write gzipped window examples and the report), then, up to --transform-max-rows, tf.Transform with the
forecast preprocessing_fn (analyze the train windows, transform all three splits, write them), as the pipeline's
Transform component does. Wall time is each Beam pipeline's run; memory is sampled every 0.2 s as the summed RSS
of that process and every process it started (the multi-processing workers), and its peak kept per phase.
With --reference-max-rows, the whole-series path (block_steps=0, the windowing before blocks) is measured too;
with --floor-max-rows, a pipeline that only reads, parses and shuffles the rows by block (no windowing): what
the DirectRunner itself holds, since it keeps every shuffled element in memory.

Usage: python -m bench.windowing_bench [--sizes 10000,100000,1000000,5000000] [--modes in_memory,multi_processing_2]
                                       [--block-steps 4096] [--transform-max-rows 100000]
                                       [--reference-max-rows 0] [--floor-max-rows 0] [--out bench/out/windowing]
                                       [--results bench/results/windowing.json] [--merge]
"""
import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Dict, List

from bench import common as bench_common
from bench.common import REPO

MODES = {
    'in_memory': ('--direct_running_mode=in_memory', '--direct_num_workers=1'),
    'multi_processing_2': ('--direct_running_mode=multi_processing', '--direct_num_workers=2'),
}
DEFAULT_SIZES = (10_000, 100_000, 1_000_000, 5_000_000)
START = 1262304000  # 2010-01-01 00:00 UTC
HOUR = 3600
GAP_EVERY, GAP_ROWS = 10_000, 3
MISSING_EVERY, MISSING_ROWS = 1_000, 20  # missing readings come in stretches, as in the Beijing data
NUMERIC = ('pm2.5', 'DEWP', 'TEMP', 'PRES', 'Iws', 'Is', 'Ir')
CATEGORICAL = ('cbwd',)
SAMPLE_SECONDS = 0.2
FLOOR = -1  # the `block_steps` of the read-parse-shuffle-only pipeline


def window_config(window: int = 24, horizon: int = 1):
  """The forecast task's window set-up for the generated series (its defaults: 24 hours, next hour)."""
  from components.window_config import WindowConfig  # pylint: disable=g-import-not-at-top
  return WindowConfig(time_column='datetime', target='pm2.5', numeric_features=NUMERIC,
                      categorical_features=CATEGORICAL, window=window, horizon=horizon)


# ----------------------------------------------------------------------------------------------------
# The generated series.

def write_series(path: pathlib.Path, rows: int, seed: int = 0) -> int:
  """`rows` hourly row examples (plus the gaps) as ExampleGen writes them from the CSV; returns the rows written."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(seed)
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_suffix('.partial')
  example = tf.train.Example()
  feature = example.features.feature
  winds = [w.encode() for w in ('NW', 'NE', 'SE', 'cv')]
  written, step, chunk = 0, 0, 100_000
  with tf.io.TFRecordWriter(str(partial)) as writer:
    while written < rows:
      n = min(chunk, rows - written)
      hours = np.arange(step, step + n + n // GAP_EVERY * GAP_ROWS + GAP_ROWS)
      hours = hours[(hours % GAP_EVERY) >= GAP_ROWS][:n]  # a GAP_ROWS-hour gap every GAP_EVERY hours
      step = int(hours[-1]) + 1
      daily = np.sin(2 * np.pi * (hours % 24) / 24)
      pm25 = np.maximum(0, 80 + 40 * daily + rng.normal(0, 20, n)).round()
      dewp, temp = (rng.normal(0, 10, n) + 5 * daily).round(), (12 + 8 * daily + rng.normal(0, 3, n)).round()
      pres, iws = (1015 + rng.normal(0, 8, n)).round(), rng.exponential(20, n).round(2)
      snow, rain = rng.poisson(0.05, n), rng.poisson(0.1, n)
      wind = rng.integers(0, len(winds), n)
      missing = (hours % MISSING_EVERY) >= MISSING_EVERY - MISSING_ROWS
      for i in range(n):
        stamp = datetime.datetime.fromtimestamp(START + int(hours[i]) * HOUR, datetime.timezone.utc)
        feature['datetime'].bytes_list.value[:] = [stamp.strftime('%Y-%m-%d %H:%M:%S').encode()]
        feature['pm2.5'].int64_list.value[:] = [] if missing[i] else [int(pm25[i])]
        feature['DEWP'].int64_list.value[:] = [int(dewp[i])]
        feature['TEMP'].float_list.value[:] = [temp[i]]
        feature['PRES'].float_list.value[:] = [pres[i]]
        feature['cbwd'].bytes_list.value[:] = [winds[wind[i]]]
        feature['Iws'].float_list.value[:] = [iws[i]]
        feature['Is'].int64_list.value[:] = [int(snow[i])]
        feature['Ir'].int64_list.value[:] = [int(rain[i])]
        writer.write(example.SerializeToString())
      written += n
  partial.rename(path)
  return written


def series_file(out: pathlib.Path, rows: int) -> pathlib.Path:
  """The generated series of `rows` rows under out/data/, written on first use."""
  path = out / 'data' / f'rows_{rows}' / 'rows.tfrecord'
  if not path.exists():
    started = time.time()
    print(f'generating {rows:,} rows ...', flush=True)
    write_series(path, rows)
    print(f'  {time.time() - started:.0f}s', flush=True)
  return path


# ----------------------------------------------------------------------------------------------------
# One measurement, in a fresh process (`--child`).

def _phase(status: pathlib.Path, name: str) -> None:
  status.write_text(name)


def child(args) -> int:
  """Runs the windowing (and Transform) pipelines on one series with one Beam set-up; writes a JSON result."""
  import resource  # pylint: disable=g-import-not-at-top
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from apache_beam.metrics.metric import MetricsFilter  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from components import windowing  # pylint: disable=g-import-not-at-top
  work, status = pathlib.Path(args.work), pathlib.Path(args.status)
  config, result = window_config(), {}
  options = PipelineOptions(list(MODES[args.mode]))
  _phase(status, 'windowing')
  started = time.perf_counter()
  p = beam.Pipeline(options=options)
  if args.block_steps == FLOOR:
    _shuffle_only(p, args.series, config)
  else:
    windowing.windowing_pipeline(p, [args.series], config, str(work / 'windows'), str(work / 'scratch'),
                                 args.block_steps)
  run = p.run()
  run.wait_until_finish()
  result['windowing_seconds'] = round(time.perf_counter() - started, 2)
  groups = run.metrics().query(MetricsFilter().with_name('rows_per_group'))['distributions']
  if groups:  # the largest group of rows one DoFn call held, and how many groups there were
    result['rows_per_group'] = {'max': groups[0].committed.max, 'groups': groups[0].committed.count}
  if args.block_steps != FLOOR:
    result['report'] = json.loads((work / 'scratch' / 'report.json').read_text())
    result['errors'] = json.loads((work / 'scratch' / 'errors.json').read_text())
  if args.transform:
    _phase(status, 'transform')
    started = time.perf_counter()
    transform(options, config, work)
    result['transform_seconds'] = round(time.perf_counter() - started, 2)
  _phase(status, 'done')
  result['maxrss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
  result['children_maxrss_mb'] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
  pathlib.Path(args.result).write_text(json.dumps(result, indent=1))
  return 0


def _shuffle_only(p, series: str, config) -> None:
  """Read and parse the rows as the windowing does, group them by block of 4096 steps, count them: no windows."""
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from components import windowing  # pylint: disable=g-import-not-at-top
  parse = windowing._ParseRows(config)  # pylint: disable=protected-access
  parsed = (p | beam.Create([series]) | beam.io.ReadAllFromTFRecord()
            | beam.ParDo(parse).with_outputs('errors', main='rows'))
  _ = (parsed.rows | 'ByBlock' >> beam.Map(lambda kv, width=4096 * HOUR: ((kv[0], kv[1].timestamp // width), kv[1]))
       | beam.GroupByKey() | beam.Map(lambda kv: sum(1 for _ in kv[1])) | beam.CombineGlobally(sum))


def transform(options, config, work: pathlib.Path) -> None:
  """The forecast Transform on the windows: analyze train, transform train/eval/test, write tf.Examples."""
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  import tensorflow_transform.beam as tft_beam  # pylint: disable=g-import-not-at-top
  from tfx_bsl.public import tfxio  # pylint: disable=g-import-not-at-top
  from components import windowing  # pylint: disable=g-import-not-at-top
  from preprocessing import forecast_transform  # pylint: disable=g-import-not-at-top
  from preprocessing.options import ForecastOptions  # pylint: disable=g-import-not-at-top
  key = windowing.feature_key
  custom_config = {'numeric_features': [key(c) for c in config.numeric_features],
                   'categorical_features': [key(c) for c in config.categorical_features],
                   'target_feature': key(config.target), 'time_feature': key(config.time_column),
                   'num_oov_buckets': ForecastOptions().num_oov_buckets}
  schema = windowing.window_schema(config)
  sources = {split: tfxio.TFExampleRecord(file_pattern=str(work / 'windows' / f'Split-{split}' / '*'), schema=schema)
             for split in windowing.SPLITS}
  with beam.Pipeline(options=options) as p, tft_beam.Context(temp_dir=str(work / 'tft_tmp')):
    train = p | 'ReadTrain' >> sources['train'].BeamSource()
    (data, metadata), transform_fn = (
        (train, sources['train'].TensorAdapterConfig())
        | 'Analyze' >> tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: forecast_transform.preprocessing_fn(inputs, custom_config)))
    coder = tft.coders.ExampleProtoCoder(metadata.schema)
    outputs = {'train': data}
    for split in ('eval', 'test'):
      raw = p | f'Read{split}' >> sources[split].BeamSource()
      outputs[split], _ = (((raw, sources[split].TensorAdapterConfig()), transform_fn)
                           | f'Transform{split}' >> tft_beam.TransformDataset())
    for split, transformed in outputs.items():
      _ = (transformed | f'Encode{split}' >> beam.Map(coder.encode)
           | f'Write{split}' >> beam.io.WriteToTFRecord(str(work / 'transformed' / split / 'data'),
                                                        file_name_suffix='.gz'))


# ----------------------------------------------------------------------------------------------------
# The parent: generate, run each configuration in a child, sample its memory.

def _tree_rss(process) -> int:
  import psutil  # pylint: disable=g-import-not-at-top
  total = 0
  for p in [process, *process.children(recursive=True)]:
    try:
      total += p.memory_info().rss
    except psutil.Error:
      pass
  return total


def measure(series: pathlib.Path, rows: int, mode: str, block_steps: int, run_transform: bool,
            work: pathlib.Path) -> dict:
  """One child process on `series`: its result plus its peak memory per phase."""
  import psutil  # pylint: disable=g-import-not-at-top
  import shutil  # pylint: disable=g-import-not-at-top
  shutil.rmtree(work, ignore_errors=True)
  work.mkdir(parents=True)
  status, result_path = work / 'status', work / 'result.json'
  _phase(status, 'start-up')
  command = [sys.executable, '-m', 'bench.windowing_bench', '--child', '--series', str(series), '--mode', mode,
             '--block-steps', str(block_steps), '--work', str(work), '--status', str(status),
             '--result', str(result_path)] + (['--transform'] if run_transform else [])
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='2', PYTHONUNBUFFERED='1')
  load_before = os.getloadavg()[0]
  started = time.time()
  with open(work / 'child.log', 'w') as log:
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    handle, peaks = psutil.Process(process.pid), {}
    while process.poll() is None:
      try:
        phase, rss = status.read_text(), _tree_rss(handle)
      except (OSError, psutil.Error):
        continue
      peaks[phase] = max(peaks.get(phase, 0), rss)
      time.sleep(SAMPLE_SECONDS)
  if process.returncode:
    log_text = (work / 'child.log').read_text()
    raise SystemExit(f'{rows:,} rows, {mode}, block_steps {block_steps}: exit status {process.returncode}\n'
                     + log_text[-4000:])
  result = json.loads(result_path.read_text())
  report = result.pop('report', None) or {'windows': None, 'gap_count': None, 'dropped_incomplete': None}
  record = {'rows': rows, 'mode': mode, 'block_steps': block_steps,
            'process_seconds': round(time.time() - started, 1),
            'windowing_seconds': result['windowing_seconds'],
            'transform_seconds': result.get('transform_seconds'),
            'rows_per_group': result.get('rows_per_group'),
            'peak_rss_mb': {phase: round(peak / 2**20) for phase, peak in peaks.items()},
            'maxrss_mb': result['maxrss_mb'], 'children_maxrss_mb': result['children_maxrss_mb'],
            'windows': report['windows'], 'gap_count': report['gap_count'],
            'dropped_incomplete': report['dropped_incomplete'], 'errors': result.get('errors'),
            'load_average_1min': [round(load_before, 2), round(os.getloadavg()[0], 2)]}
  print(json.dumps({k: record[k] for k in ('rows', 'mode', 'block_steps', 'windowing_seconds', 'transform_seconds',
                                           'peak_rss_mb', 'rows_per_group')}), flush=True)
  return record


def _cell_seconds(value) -> str:
  return '' if value is None else f'{value:,.1f} s'


def table(records: List[dict]) -> str:
  """Markdown: one row per (path, length), one column pair (time, peak memory) per set-up and phase."""
  modes = list(dict.fromkeys(r['mode'] for r in records))
  header = ['rows', 'path', 'largest group']
  for mode in modes:
    header += [f'{mode}: windowing', 'peak MB', 'Transform', 'peak MB']
  lines = ['| ' + ' | '.join(header) + ' |', '| ---: | --- | ---: |' + ' ---: |' * (4 * len(modes))]
  keys = list(dict.fromkeys((r['rows'], r['block_steps']) for r in records))
  path_order = lambda block_steps: 2 if block_steps == FLOOR else (1 if block_steps == 0 else 0)  # noqa: E731
  for rows, block_steps in sorted(keys, key=lambda k: (path_order(k[1]), k[0])):
    label = {0: 'whole series (before)', FLOOR: 'read, parse, shuffle only'}.get(block_steps,
                                                                               f'blocks of {block_steps}')
    cells = [f'{rows:,}', label]
    groups = next((r['rows_per_group'] for r in records if (r['rows'], r['block_steps']) == (rows, block_steps)
                   and r.get('rows_per_group')), None)
    cells.append(f"{groups['max']:,} rows" if groups else '')
    for mode in modes:
      record = next((r for r in records if (r['rows'], r['block_steps'], r['mode']) == (rows, block_steps, mode)),
                    None)
      if record is None:
        cells += [''] * 4
        continue
      peaks = record['peak_rss_mb']
      cells += [_cell_seconds(record['windowing_seconds']), f"{peaks.get('windowing', 0):,}",
                _cell_seconds(record['transform_seconds']),
                f"{peaks['transform']:,}" if 'transform' in peaks else '']
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def growth(records: List[dict]) -> Dict[str, dict]:
  """Per set-up (block-wise path): time and peak memory of each length relative to the smallest."""
  out = {}
  for mode in dict.fromkeys(r['mode'] for r in records):
    mine = sorted((r for r in records if r['mode'] == mode and r['block_steps'] > 0), key=lambda r: r['rows'])
    if len(mine) < 2:
      continue
    first = mine[0]
    out[mode] = {f"{r['rows']}": {
        'rows_ratio': r['rows'] / first['rows'],
        'time_ratio': round(r['windowing_seconds'] / first['windowing_seconds'], 1),
        'peak_ratio': round(r['peak_rss_mb'].get('windowing', 0) / max(first['peak_rss_mb'].get('windowing', 1), 1), 2),
    } for r in mine[1:]}
  return out


def _sizes(text: str) -> List[int]:
  try:
    sizes = [int(float(s)) for s in text.split(',') if s.strip()]
  except ValueError:
    raise argparse.ArgumentTypeError(f'--sizes wants comma-separated row counts, got {text!r}') from None
  if not sizes or min(sizes) < 100:
    raise argparse.ArgumentTypeError('--sizes: every length must be at least 100 rows')
  return sizes


def _modes(text: str) -> List[str]:
  modes = [m.strip() for m in text.split(',') if m.strip()]
  unknown = [m for m in modes if m not in MODES]
  if unknown or not modes:
    raise argparse.ArgumentTypeError(f'--modes: choose from {", ".join(MODES)}')
  return modes


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--sizes', type=_sizes, default=list(DEFAULT_SIZES),
                      help='series lengths in rows, comma-separated (default: 10000,100000,1000000,5000000)')
  parser.add_argument('--modes', type=_modes, default=list(MODES),
                      help=f'Beam set-ups, comma-separated (default: {",".join(MODES)})')
  parser.add_argument('--block-steps', type=int, default=None,
                      help='time steps per block (default: the component\'s, 4096)')
  parser.add_argument('--transform-max-rows', type=int, default=100_000,
                      help='run the Transform for series up to this length (default: %(default)s; 0: never)')
  parser.add_argument('--reference-max-rows', type=int, default=0,
                      help='also measure the whole-series path up to this length (default: never)')
  parser.add_argument('--floor-max-rows', type=int, default=0,
                      help='also measure read-parse-shuffle only up to this length (default: never)')
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'windowing')
  parser.add_argument('--results', type=pathlib.Path, default=bench_common.RESULTS / 'windowing.json',
                      help='where the raw results (JSON) are also written (default: %(default)s)')
  parser.add_argument('--merge', action='store_true',
                      help='keep the records already in --results, replacing those measured again')
  parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
  for name in ('--series', '--mode', '--work', '--status', '--result'):
    parser.add_argument(name, help=argparse.SUPPRESS)
  parser.add_argument('--transform', action='store_true', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    return child(args)

  from bench import beam_bench  # pylint: disable=g-import-not-at-top
  if args.block_steps is None:
    from components.windowing import DEFAULT_BLOCK_STEPS  # pylint: disable=g-import-not-at-top
    args.block_steps = DEFAULT_BLOCK_STEPS
  if args.block_steps < 1:
    parser.error('--block-steps must be >= 1 (the whole-series path is --reference-max-rows)')
  started = datetime.datetime.now(datetime.timezone.utc)
  records = []
  for rows in sorted(args.sizes):
    series = series_file(args.out, rows)
    paths = ([args.block_steps] + ([0] if rows <= args.reference_max_rows else [])
             + ([FLOOR] if rows <= args.floor_max_rows else []))
    for block_steps in paths:
      for mode in args.modes:
        work = args.out / 'runs' / f'{rows}_{mode}_{block_steps}'
        records.append(measure(series, rows, mode, block_steps, block_steps > 0 and rows <= args.transform_max_rows,
                               work))
  for record in records:
    record['measured_at'] = started.strftime('%Y-%m-%dT%H:%M:%SZ')
  if args.merge and args.results.exists():
    measured = {(r['rows'], r['mode'], r['block_steps']) for r in records}
    earlier = json.loads(args.results.read_text())['records']
    records = [r for r in earlier if (r['rows'], r['mode'], r['block_steps']) not in measured] + records
    records.sort(key=lambda r: (r['rows'], r['block_steps'] <= 0, r['block_steps'] == FLOOR, r['mode']))
  results = {'measured_at': started.strftime('%Y-%m-%dT%H:%M:%SZ'), 'machine': beam_bench.machine(),
             'window': 24, 'horizon': 1, 'block_steps': args.block_steps, 'records': records,
             'growth': growth(records)}
  text = table(records)
  for path in (args.out / 'results.json', args.results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + '\n')
  (args.out / 'table.md').write_text(text + '\n')
  print(f"\nwindowing, W=24 H=1, nproc {results['machine']['nproc']}")
  print(text)
  print(json.dumps(results['growth'], indent=1))
  print(f'raw results: {args.results}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
