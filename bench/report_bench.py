"""Report benchmark; results go in bench/README.md.

A sentiment run on SST-2 with a `topic` column of N values to slice by (`--slices`, default 100; sentence i gets
topic i mod N), so TFMA writes N + 6 slices (overall, five length buckets, N topics). Then:
how long `tfx-lstm report` takes (the whole process, and the in-process write alone), the size of the HTML, and how
long headless Chromium takes to open it offline (navigation start to the load event, median of `--loads`).

Usage: python -m bench.report_bench --data DIR [--slices N] [--epochs N] [--out DIR] [-- pipeline flags]
DIR holds the full datasets as bench/README.md ("Data") lays them out; this reads DIR/sentiment/sst2/.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

from bench import common as bench_common
from bench.common import REPO
from core.layout import RootLayout


def write_sliced_sst2(data: pathlib.Path, target: pathlib.Path, slices: int) -> None:
  """SST-2 train and dev with the task's header names and a `topic` column of `slices` values."""
  target.mkdir(parents=True, exist_ok=True)
  for name, source in zip(('train.tsv', 'dev.tsv'), bench_common.require_data(data, bench_common.SST2_TRAIN,
                                                                             bench_common.SST2_DEV)):
    rows = [line for line in source.read_text(encoding='utf-8').splitlines()[1:] if line.strip()]
    lines = ['text\tlabel\ttopic'] + [f'{row}\ttopic-{i % slices:03d}' for i, row in enumerate(rows)]
    (target / name).write_text('\n'.join(lines) + '\n', encoding='utf-8')


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  bench_common.add_data_flag(parser)
  parser.add_argument('--slices', type=int, default=100, help='values of the topic column (default: %(default)s)')
  parser.add_argument('--epochs', type=int, default=1, help='training epochs: the model is not the point (default: 1)')
  parser.add_argument('--loads', type=int, default=5, help='browser loads to time (default: %(default)s)')
  parser.add_argument('--out', type=pathlib.Path, default=REPO / 'bench' / 'out' / 'report')
  parser.add_argument('--results', type=pathlib.Path, default=bench_common.RESULTS / 'report.json')
  parser.add_argument('pipeline_flags', nargs='*', help='after --: more `tfx-lstm run sentiment` flags')
  args = parser.parse_args(argv)
  bench_common.require_data(args.data, bench_common.SST2_TRAIN, bench_common.SST2_DEV)

  from bench import browser  # pylint: disable=g-import-not-at-top
  if browser.find_chromium() is None:
    print(f'error: Chromium is not installed; install it with: {browser.INSTALL_CHROMIUM}', file=sys.stderr)
    return 2
  write_sliced_sst2(args.data, args.out / 'sst2', args.slices)
  root = args.out / 'root'
  run = bench_common.run_pipeline('sentiment', ['--data', str(args.out / 'sst2'), '--root', str(root),
                                                '--slice-columns', 'topic', '--epochs', str(args.epochs),
                                                '--no-cache', *args.pipeline_flags])
  output = args.out / f'{run.run_id}.html'
  started = time.time()
  command = subprocess.run([sys.executable, '-m', 'cli', 'report', '--root', str(root), '--run', run.run_id,
                            '--output', str(output)], cwd=REPO, capture_output=True, text=True, timeout=600)
  process_seconds = time.time() - started
  if command.returncode != 0:
    print(command.stdout + command.stderr, file=sys.stderr)
    return 1

  from records import evaluation, report  # pylint: disable=g-import-not-at-top
  record = bench_common.read_run(root, 'sentiment', run.run_id)
  slices = len(evaluation.sliced_metrics(record.output('ModelEvaluation').uri))
  started = time.time()
  report.write_report(RootLayout.at(str(root)).metadata_path, run.run_id, str(args.out / 'again.html'))
  write_seconds = time.time() - started
  opened = browser.open_offline(str(output), loads=args.loads)
  problems = opened['console'] + opened['errors'] + opened['requests'] + opened['broken_images']
  result = {
      'run_id': run.run_id, 'slices': slices, 'topic_values': args.slices, 'html_bytes': output.stat().st_size,
      'report_process_seconds': round(process_seconds, 2), 'report_write_seconds': round(write_seconds, 2),
      'browser_load_ms': [round(ms, 1) for ms in opened['load_ms']],
      'browser_load_ms_median': round(statistics.median(opened['load_ms']), 1), 'browser_problems': problems,
  }
  args.results.parent.mkdir(parents=True, exist_ok=True)
  args.results.write_text(json.dumps(result, indent=1) + '\n')
  print(f"{slices} slices: report {result['html_bytes'] / 1e6:.2f} MB, written in {write_seconds:.1f} s "
        f"({process_seconds:.1f} s for the whole `tfx-lstm report` process), opened in "
        f"{result['browser_load_ms_median']:.0f} ms (median of {args.loads}){'; PROBLEMS ' + str(problems) if problems else ''}")
  print(f'results: {args.results}')
  return 1 if problems else 0


if __name__ == '__main__':
  sys.exit(main())
