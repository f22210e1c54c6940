"""Beam benchmark: the forecast pipeline on the full Beijing PM2.5 data (from --data), run twice in this session,
each from a fresh root: with tfx-lstm's default Beam set-up (DirectRunner in memory, one worker) and with
`--beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=2`. Records the wall time of
every component (from the CLI's per-component lines), of the pipeline and of the whole `tfx-lstm run` process,
and the machine. Results go in bench/README.md.

Training is kept short (--epochs 2 by default): the Beam components (ExampleGen, StatisticsGen,
TimeSeriesWindowGen, Transform, Evaluator) are what is compared; the Trainer runs no Beam.

Usage: python -m bench.beam_bench --data DIR [--epochs 2] [--out bench/out/beam] [--results bench/results/beam.json]
                                  [--mode NAME=BEAM_ARGS ...] [-- extra `tfx-lstm run forecast` flags]
DIR holds the full datasets as bench/README.md ("Data") lays them out; this script reads
DIR/timeseries/beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv. Each --mode replaces the two default set-ups: a
name, `=`, and space-separated Beam flags (none for the default set-up), e.g.
--mode in_memory= --mode "multi_processing_2=--direct_running_mode=multi_processing --direct_num_workers=2".
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import sys
from typing import List, Tuple

from bench import common as bench_common
from bench import forecast_bench
from bench.common import REPO

DEFAULT_MODES = (
    ('in_memory', ()),  # tfx-lstm's default: --direct_running_mode=in_memory --direct_num_workers=1
    ('multi_processing_2', ('--direct_running_mode=multi_processing', '--direct_num_workers=2')),
)
# The components of the forecast pipeline that run a Beam pipeline (and so take the Beam flags).
BEAM_COMPONENTS = ('FileBasedExampleGen', 'StatisticsGen', 'TimeSeriesWindowGen', 'Transform', 'Evaluator')


def parse_mode(text: str) -> Tuple[str, Tuple[str, ...]]:
  name, sep, beam_args = text.partition('=')
  if not sep or not name:
    raise argparse.ArgumentTypeError(f'--mode wants NAME=BEAM_ARGS, got {text!r}')
  return name, tuple(beam_args.split())


def machine() -> dict:
  """What the numbers were measured on."""
  info = {'nproc': len(os.sched_getaffinity(0)), 'cpu_count': os.cpu_count(), 'platform': platform.platform(),
          'python': platform.python_version()}
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      info['cpu'] = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), '')
    with open('/proc/meminfo', encoding='utf-8') as f:
      info['memory_gb'] = round(int(next(line for line in f if line.startswith('MemTotal')).split()[1]) / 2**20, 1)
  except (OSError, StopIteration, ValueError):
    pass
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  for package in ('apache-beam', 'tfx', 'tensorflow'):
    try:
      info[package] = metadata.version(package)
    except metadata.PackageNotFoundError:
      pass
  return info


def run_mode(name: str, beam_args, data_dir: pathlib.Path, out: pathlib.Path, epochs: int, extra) -> dict:
  """One pipeline run from a fresh root under out/NAME; its per-component and total times."""
  root = out / name / 'root'
  shutil.rmtree(out / name, ignore_errors=True)
  load_before = os.getloadavg()[0]  # other work on the machine skews the times; the load average shows it
  run = bench_common.run_pipeline('forecast', forecast_bench.pipeline_flags(data_dir, root, epochs, 1, extra),
                                  beam_args)
  load_after = os.getloadavg()[0]
  record = bench_common.read_run(root, 'forecast', run.run_id)
  not_executed = sorted(node for node, states in record.execution_states.items() if set(states) != {'COMPLETE'})
  if not_executed:
    raise SystemExit(f'{name}: these components did not execute from scratch: {not_executed}')
  beam_seconds = sum(c['seconds'] for c in run.components if c['name'] in BEAM_COMPONENTS)
  return {'name': name, 'beam_args': list(beam_args), 'run_id': run.run_id,
          'components': run.components, 'beam_components_seconds': round(beam_seconds, 1),
          'components_seconds': round(sum(c['seconds'] for c in run.components), 1),
          'pipeline_seconds': run.pipeline_seconds, 'process_seconds': round(run.seconds, 1),
          'load_average_1min': [round(load_before, 2), round(load_after, 2)]}


def table(modes: List[dict]) -> str:
  """The results as a Markdown table: one row per component, one column per Beam set-up."""
  names = [m['name'] for m in modes]
  lines = ['| component | ' + ' | '.join(names) + ' |', '| --- |' + ' ---: |' * len(names)]
  order = [c['name'] for c in modes[0]['components']]
  for mode in modes[1:]:
    order += [c['name'] for c in mode['components'] if c['name'] not in order]
  for component in order:
    cells = []
    for mode in modes:
      seconds = next((c['seconds'] for c in mode['components'] if c['name'] == component), None)
      cells.append('' if seconds is None else f'{seconds:.1f} s')
    label = f'{component} (Beam)' if component in BEAM_COMPONENTS else component
    lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
  lines.append('| **Beam components** | ' + ' | '.join(f"**{m['beam_components_seconds']:.1f} s**" for m in modes)
               + ' |')
  lines.append('| all components | ' + ' | '.join(f"{m['components_seconds']:.1f} s" for m in modes) + ' |')
  lines.append('| pipeline (CLI "pipeline finished in") | '
               + ' | '.join('' if m['pipeline_seconds'] is None else f"{m['pipeline_seconds']:.0f} s" for m in modes)
               + ' |')
  lines.append('| whole `tfx-lstm run` process | ' + ' | '.join(f"{m['process_seconds']:.0f} s" for m in modes) + ' |')
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  bench_common.add_data_flag(parser)
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'beam')
  parser.add_argument('--results', type=pathlib.Path, default=bench_common.RESULTS / 'beam.json',
                      help='where the raw results (JSON) are also written (default: %(default)s)')
  parser.add_argument('--epochs', type=int, default=2, help='training epochs of each run (default: %(default)s)')
  parser.add_argument('--mode', type=parse_mode, action='append', metavar='NAME=BEAM_ARGS',
                      help='a Beam set-up to run (repeatable; default: in_memory and multi_processing_2)')
  parser.add_argument('pipeline_flags', nargs='*', help='extra `tfx-lstm run forecast` flags (after --)')
  args = parser.parse_args()
  modes = args.mode or list(DEFAULT_MODES)
  if len({name for name, _ in modes}) != len(modes):
    parser.error('--mode names must differ')

  bench_common.require_data(args.data, bench_common.BEIJING_CSV)
  out = args.out
  out.mkdir(parents=True, exist_ok=True)
  data_dir = forecast_bench.prepare_data(args.data, out)
  with open(next(data_dir.glob('*.csv')), encoding='utf-8') as f:
    rows = sum(1 for _ in f) - 1
  started = datetime.datetime.now(datetime.timezone.utc)
  measured = [run_mode(name, beam_args, data_dir, out, args.epochs, args.pipeline_flags) for name, beam_args in modes]
  results = {'measured_at': started.strftime('%Y-%m-%dT%H:%M:%SZ'), 'machine': machine(), 'rows': rows,
             'epochs': args.epochs, 'pipeline_flags': args.pipeline_flags, 'modes': measured}
  text = table(measured)
  for path in (out / 'results.json', args.results):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + '\n')
  (out / 'table.md').write_text(text + '\n')
  print(f"\nforecast pipeline, {rows:,} rows, {args.epochs} epochs, nproc {results['machine']['nproc']}")
  print(text)
  print(f'raw results: {args.results}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
