"""Tier 3: `tfx-lstm run forecast` killed with SIGKILL in each component, and the next run recovering by itself.

One run root, one chain of runs on a slice of the bundled data. The first run completes and pushes version v1.
Then, on data one day shorter, each run is killed in the next component (ExampleGen, TimeSeriesWindowGen,
Transform, Trainer, Evaluator; the Pusher half-way through its staging copy, and after its rename but before TFX
recorded it), and each start recovers from the kill before: the killed execution becomes FAILED with the
"abandoned" message, its partial outputs are deleted, and what finished before is reused from the cache. A
last run completes without a kill and records the version the killed push renamed into place, without a copy.

tests/fault_injection.py holds the run at the chosen point (test code only: the CLI, the components, Beam and ML
Metadata are the real ones) and writes a file once there; the test then checks in ML Metadata that the node's
execution is RUNNING in that run and kills the process group. The kill never races the component: the component
is inside its executor, waiting.
"""
import contextlib
import csv
import dataclasses
import glob
import html
import io
import os
import re
import signal
import subprocess
import sys
import time
from typing import List, Optional

import pytest

from conftest import BUNDLED_FORECAST_CSV, REPO, read_run_of, run_cli, run_id_of
from orchestration import recovery
from records import run_record

pytestmark = pytest.mark.e2e

ROWS = 1800  # 75 days of hourly rows, as tests/test_forecast_e2e.py
# One epoch of a small model; a gate every candidate passes: this test is about what a crash leaves, not quality.
FLAGS = ['--epochs', '1', '--units', '8', '--min-skill', '-1', '--max-mae-increase', '1e6']
NODES = ('FileBasedExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator', 'DataCheck', 'TimeSeriesWindowGen',
         'Transform', 'Trainer', 'Evaluator', 'ServingSmokeTest', 'Pusher', 'ForecastTestScore', 'EvalPredictions')
HOLD_TIMEOUT = 600  # seconds for a run to reach its point: a run of every component takes about a minute here


@dataclasses.dataclass
class Killed:
  """A run killed at a point: what the next start must recover."""
  run_id: str
  node: str
  partial: List[str]  # the killed execution's directories under the pipeline root, there at the kill


@dataclasses.dataclass
class Chain:
  root: str
  data: str  # the first run's data
  newer: str  # the killed runs' data, one day shorter
  scratch: str
  served: List[str] = dataclasses.field(default_factory=list)  # version directories on disk, oldest first
  completed: set = dataclasses.field(default_factory=set)  # nodes that finished on `newer` data so far
  killed: Optional[Killed] = None


def _write_data(directory: str, rows: int) -> str:
  os.makedirs(directory)
  with open(BUNDLED_FORECAST_CSV) as f:
    lines = f.readlines()[:rows + 1]
  with open(os.path.join(directory, 'part-0.csv'), 'w') as f:
    f.write(''.join(lines))
  return directory


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
  scratch = str(tmp_path_factory.mktemp('crash_recovery'))
  chain = Chain(root=os.path.join(scratch, 'root'), data=_write_data(os.path.join(scratch, 'data'), ROWS),
                newer=_write_data(os.path.join(scratch, 'newer'), ROWS - 24), scratch=scratch)
  first = run_cli('run', 'forecast', '--data', chain.data, '--root', chain.root, *FLAGS)
  assert first.returncode == 0, first.stdout + first.stderr
  chain.served = _versions(chain)
  assert len(chain.served) == 1 and read_run_of(chain.root, first).pushed_version() == chain.served[0]
  return chain


def _serving(chain: Chain) -> str:
  return os.path.join(chain.root, 'serving', 'forecast')


def _versions(chain: Chain) -> List[str]:
  return sorted((v for v in os.listdir(_serving(chain)) if v.isdigit()), key=int)


def _staging(chain: Chain) -> List[str]:
  return [name for name in os.listdir(_serving(chain)) if name.startswith('.staging-')]


def _metadata(chain: Chain) -> str:
  return os.path.join(chain.root, 'metadata.sqlite')


def _execution_id(chain: Chain, run_id: str, node: str) -> int:
  """The id of the node's execution in the run (the run's pipeline-run context and the node's node context)."""
  store = run_record.open_store(_metadata(chain))
  run = store.get_context_by_type_and_name(run_record.RUN_CONTEXT, run_id)
  node_context = store.get_context_by_type_and_name(run_record.NODE_CONTEXT, f'tfx-lstm-forecast.{node}')
  in_node = {e.id for e in store.get_executions_by_context(node_context.id)}
  [execution_id] = [e.id for e in store.get_executions_by_context(run.id) if e.id in in_node]
  return execution_id


def _partial_outputs(chain: Chain, node: str, execution_id: int) -> List[str]:
  """The execution's directories under the pipeline root: `<node>/<output key>/<id>` and its executor scratch."""
  node_dir = os.path.join(chain.root, 'pipelines', 'forecast', node)
  return sorted(glob.glob(os.path.join(node_dir, '*', str(execution_id)))
                + glob.glob(os.path.join(node_dir, '.system', 'executor_execution', str(execution_id))))


def _tail(path: str, lines: int = 40) -> str:
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      return ''.join(f.readlines()[-lines:])
  except OSError:
    return f'({path} missing)\n'


def _run_until(chain: Chain, point: str):
  """Starts `tfx-lstm run forecast` on the newer data, held at `point`; returns (process, run id, console output)
  once the point is reached. Fails with the output and the run log's tail when the run ends first or times out."""
  name = point.replace(':', '-')
  ready, out = os.path.join(chain.scratch, f'{name}.ready'), os.path.join(chain.scratch, f'{name}.out')
  with open(out, 'w') as console:
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'tests', 'fault_injection.py'), point, ready, '--', 'run', 'forecast',
         '--data', chain.newer, '--root', chain.root, *FLAGS],
        cwd=REPO, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,  # its own process group
        env={**os.environ, 'TF_USE_LEGACY_KERAS': '1'})
  deadline = time.monotonic() + HOLD_TIMEOUT
  while not os.path.exists(ready):
    if process.poll() is not None or time.monotonic() > deadline:
      if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
      output = open(out, encoding='utf-8', errors='replace').read()
      run_id = _run_id(output)
      run_log = _tail(os.path.join(chain.root, 'logs', f'{run_id}.log')) if run_id else '(no run started)\n'
      pytest.fail(f'the run never reached {point} (exit status {process.returncode}):\n{output}\n'
                  f'--- its log, last lines:\n{run_log}')
    time.sleep(0.5)
  output = open(out, encoding='utf-8', errors='replace').read()
  return process, _run_id(output), output


def _run_id(console_output: str) -> str:
  """The run id a run printed (its `  run <id>` line), or ''."""
  found = re.search(r'^  run (\S+)$', console_output, re.MULTILINE)
  return found.group(1) if found else ''


def _kill_at(chain: Chain, point: str) -> str:
  """Runs until `point`, checks the node is RUNNING in ML Metadata, kills the run; checks the recovery of the kill
  before (if any) on the way. Returns the run's console output."""
  node = point.split(':')[0]
  process, run_id, output = _run_until(chain, point)
  try:
    _check_recovered(chain, run_id, output, held_at=node)
    record = run_record.read_run(_metadata(chain), run_id)
    assert record.execution_states.get(node) == ['RUNNING'], record.execution_states
    partial = _partial_outputs(chain, node, _execution_id(chain, run_id, node))
    assert partial, f'{node} has no output directory to leave behind'
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
  assert process.returncode == -signal.SIGKILL
  chain.completed |= set(record.nodes_in_state('COMPLETE')) & set(NODES)
  chain.killed = Killed(run_id, node, partial)
  # Killed there, the run left ML Metadata saying the node runs, and nothing new is served (but after a rename).
  assert run_record.read_run(_metadata(chain), run_id).execution_states[node] == ['RUNNING']
  if point != 'Pusher:renamed':
    assert _versions(chain) == chain.served
  return output


def _check_recovered(chain: Chain, run_id: str, output: str, held_at: Optional[str] = None) -> None:
  """The start of run `run_id` recovered from the last kill: its console line, the killed execution FAILED with
  the abandoned message, its partial outputs deleted, and everything that finished before reused from the cache."""
  killed = chain.killed
  if killed is None:
    return
  assert re.search(rf'^tfx-lstm forecast: recovered from run {killed.run_id} \(killed during {killed.node}\): '
                   r'marked 1 execution abandoned', output, re.MULTILINE), output
  record = run_record.read_run(_metadata(chain), killed.run_id)
  assert record.execution_states[killed.node] == ['FAILED'], record.execution_states
  assert record.failure(killed.node) == recovery.ABANDONED.format(node=killed.node, run_id=run_id)
  assert [path for path in killed.partial if os.path.exists(path)] == []
  now = run_record.read_run(_metadata(chain), run_id)
  assert {node: now.execution_states.get(node) for node in chain.completed} == {
      node: ['CACHED'] for node in chain.completed}, now.execution_states
  if held_at != killed.node:  # the killed node itself ran again, to the end
    assert now.execution_states[killed.node] == ['COMPLETE'], now.execution_states


def test_a_run_killed_in_any_component_is_recovered_by_the_next_run(chain):
  """Killed in ExampleGen, then windowing, Transform, Trainer and the Evaluator: each start recovers the kill before
  it (checked at the next kill point, with the run held there), and the old version stays the one served."""
  for point in ('FileBasedExampleGen', 'TimeSeriesWindowGen', 'Transform', 'Trainer', 'Evaluator'):
    _kill_at(chain, point)
  assert chain.completed >= {'FileBasedExampleGen', 'TimeSeriesWindowGen', 'Transform', 'Trainer'}


def test_a_push_killed_mid_copy_leaves_the_served_version_and_the_next_run_removes_its_copy(chain):
  _kill_at(chain, 'Pusher:staging')
  staging = _staging(chain)
  assert len(staging) == 1, os.listdir(_serving(chain))  # half a copy, beside the versions, invisible to readers
  copied = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(_serving(chain), staging[0])) for f in files]
  assert len(copied) == 1, copied
  assert chain.completed >= {'Evaluator', 'ServingSmokeTest'}

  # The next start removed the half copy and recorded the kill (that run is killed after its push's rename).
  output = _kill_at(chain, 'Pusher:renamed')
  assert re.search(r'killed during Pusher\): marked 1 execution abandoned, removed 1 unfinished push$', output,
                   re.MULTILINE), output


def test_a_push_renamed_but_not_recorded_is_recorded_by_the_next_run_not_pushed_again(chain):
  assert chain.killed is not None and chain.killed.node == 'Pusher'
  renamed = [v for v in _versions(chain) if v not in chain.served]
  assert len(renamed) == 1 and int(renamed[0]) > int(chain.served[-1]), _versions(chain)
  assert _staging(chain) == []
  # Whole: the version holds the model a reader loads.
  version_dir = os.path.join(_serving(chain), renamed[0])
  assert os.path.exists(os.path.join(version_dir, 'saved_model.pb'))
  assert os.path.isdir(os.path.join(version_dir, 'variables'))

  result = run_cli('run', 'forecast', '--data', chain.newer, '--root', chain.root, *FLAGS)
  assert result.returncode == 0, result.stdout + result.stderr
  run_id = run_id_of(result)
  assert re.search(rf'^tfx-lstm forecast: recovered from run {chain.killed.run_id} \(killed during Pusher\): '
                   r'marked 1 execution abandoned$', result.stdout, re.MULTILINE), result.stdout
  _check_recovered(chain, run_id, result.stdout)
  record = read_run_of(chain.root, result)
  assert record.execution_states['Pusher'] == ['COMPLETE']
  assert record.pushed_version() == renamed[0]  # the renamed version, recorded: no third version
  assert run_record.artifact_property(record.output('PushedModel'), 'pushed_destination') == version_dir
  assert _versions(chain) == [*chain.served, renamed[0]] and _staging(chain) == []
  with open(os.path.join(chain.root, 'logs', f'{run_id}.log'), encoding='utf-8') as f:
    assert f'already pushed as version {renamed[0]} (a re-run after the push was not recorded)' in f.read()
  # What had not finished before ran now, to the end; nothing else ran again.
  assert set(record.nodes_in_state('COMPLETE')) & set(NODES) == set(NODES) - chain.completed, record.execution_states
  chain.served.append(renamed[0])


def test_the_summary_and_report_of_a_killed_run_name_the_abandoned_node(chain):
  from records import report  # pylint: disable=g-import-not-at-top
  from records.summary import print_summary  # pylint: disable=g-import-not-at-top
  trainer_killed = next(run_id for run_id in run_record.run_ids(_metadata(chain), 'tfx-lstm-forecast')
                        if 'Trainer' in run_record.read_run(_metadata(chain), run_id).nodes_in_state('FAILED'))
  record = run_record.read_run(_metadata(chain), trainer_killed)
  message = record.failure('Trainer')
  assert message.startswith("abandoned: the run's process ended while Trainer ran (killed or crashed); found by run")
  printed = io.StringIO()
  with contextlib.redirect_stdout(printed):
    print_summary('forecast', record)
  assert 'failed      Trainer' in printed.getvalue() and message in printed.getvalue(), printed.getvalue()
  path = report.write_report(_metadata(chain), trainer_killed, os.path.join(chain.scratch, 'killed.html'))
  page = html.unescape(open(path, encoding='utf-8').read())
  assert 'The run failed in Trainer.' in page and f'Trainer: {message}' in page
  assert report.run_status(record) == 'failed in Trainer'


def test_serving_and_predict_read_the_served_model(chain):
  listing = run_cli('serving', 'forecast', '--root', chain.root)
  assert listing.returncode == 0, listing.stderr
  rows = [line.split() for line in listing.stdout.splitlines()[1:]]
  assert [row[0] for row in rows] == chain.served[::-1] and rows[0][1] == '*', listing.stdout
  recent = os.path.join(chain.scratch, 'recent.csv')
  with open(os.path.join(chain.newer, 'part-0.csv')) as f:
    rows = list(csv.reader(f))
  with open(recent, 'w', newline='') as f:
    csv.writer(f).writerows([rows[0], *rows[-240:]])  # the last 10 days
  result = run_cli('predict', 'forecast', '--model', _serving(chain), '--input', recent, '--last', '1')
  assert result.returncode == 0, result.stderr
  assert re.match(r'window ending .* -> pm2\.5 at .*: -?[\d.]+$', result.stdout.strip().splitlines()[-1]), \
      result.stdout
