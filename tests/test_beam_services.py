"""`tfx-lstm run --beam-workers N`: the Beam steps through a Beam job service and an SDK worker pool, each its own
process (orchestration/beam_services.py), as Flink, Spark and Dataflow Runner v2 run them. The end-to-end test
runs one sentiment pipeline so, and the same pipeline on the in-process DirectRunner, and compares their data."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from cli import main as cli
from conftest import REPO, read_run_of, run_id_of, sst2_head
from core.layout import TRANSFORMED_COUNTS_FILE
from orchestration import beam_services

READ_LINE = re.compile(r'DelimitedTextExampleGen read (\S+): (\d+) rows, in process (\d+)')


def test_the_services_flags_send_every_step_to_them():
  services = beam_services.BeamServices('localhost:1', 'localhost:2', 2, [])
  assert services.beam_args() == ['--runner=PortableRunner', '--job_endpoint=localhost:1',
                                  '--environment_type=EXTERNAL', '--environment_config=localhost:2',
                                  '--sdk_worker_parallelism=2']


def test_beam_workers_and_a_runner_of_ones_own_are_refused(tmp_path, capsys):
  status = cli.main(['run', 'sentiment', '--root', str(tmp_path), '--beam-workers', '2',
                     '--beam-arg=--runner=FlinkRunner'])
  assert status == 2
  assert '--beam-workers 2 runs the Beam steps on a local job service' in capsys.readouterr().err
  assert os.listdir(tmp_path) == []  # refused before the lock, the metadata store or any log
  with pytest.raises(SystemExit):
    cli.build_parser().parse_args(['run', 'sentiment', '--beam-workers', '-1'])


def test_airflow_runs_get_no_local_services(tmp_path, capsys):
  status = cli.main(['airflow-dag', 'sentiment', '--output', str(tmp_path / 'dag.py'), '--beam-workers', '2'])
  assert status == 2 and 'under Airflow' in capsys.readouterr().err and not (tmp_path / 'dag.py').exists()


def test_a_service_that_dies_at_start_is_an_error_naming_its_log(tmp_path, monkeypatch):
  monkeypatch.setattr(beam_services, 'JOB_SERVICE', 'no_such_module_for_the_job_service')
  with pytest.raises(beam_services.BeamServicesError, match=r'the Beam job service exited with status 1 .*see '):
    with beam_services.local_beam_services(str(tmp_path), 2, 'r1'):
      pass
  assert 'No module named no_such_module_for_the_job_service' in (tmp_path / 'r1-job-service.log').read_text()


def _examples(record, node: str, key: str, split: str):
  """The split's examples of a node's output, each serialized deterministically, sorted."""
  uri = record.node_output(node, key).uri
  files = tf.io.gfile.glob(os.path.join(uri, f'Split-{split}', '*.gz'))
  return sorted(tf.train.Example.FromString(r).SerializeToString(deterministic=True)
                for r in tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator())


def _vocabulary(record):
  path = tf.io.gfile.glob(os.path.join(record.node_output('Transform', 'transform_graph').uri, 'transform_fn',
                                       'assets', '*'))[0]
  return tf.io.gfile.GFile(path).read()


@pytest.mark.e2e
def test_a_run_through_a_job_service_and_worker_processes_equals_an_in_process_run(tmp_path):
  data = sst2_head(tmp_path / 'data', 400)
  flags = ['--data', data, '--epochs', '1', '--units', '8', '--embedding-dim', '8', '--min-auc', '0']
  # Every Python process of the services' run logs INFO to its stderr, SDK workers included (which Beam's pool
  # starts with no logging set up): their stderr is the pool's, whose log then shows what each worker read.
  hooks = tmp_path / 'hooks'
  hooks.mkdir()
  (hooks / 'sitecustomize.py').write_text('import logging, sys\nfrom absl import logging as absl_logging\n'
                                          'logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n'
                                          'absl_logging.set_verbosity(absl_logging.INFO)\n')
  runs = {}
  for name, extra, env in (('services', ['--beam-workers', '2'], {'PYTHONPATH': str(hooks)}), ('in_process', [], {})):
    root = str(tmp_path / name)
    result = subprocess.run([sys.executable, '-m', 'cli', 'run', 'sentiment', '--root', root, *flags, *extra],
                            cwd=REPO, capture_output=True, text=True, timeout=1500, env=dict(os.environ, **env))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs[name] = (root, result, read_run_of(root, result))

  root, result, record = runs['services']
  run_id = run_id_of(result)
  assert '  beam        job service localhost:' in result.stdout and '2 SDK worker process(es)' in result.stdout
  logs = {name: open(os.path.join(root, 'logs', name), encoding='utf-8', errors='replace').read()
          for name in os.listdir(os.path.join(root, 'logs'))}
  # Every Beam step went to the job service: the deployment config the run logged names the PortableRunner.
  assert '--runner=PortableRunner' in logs[f'{run_id}.log'] and '--environment_type=EXTERNAL' in logs[f'{run_id}.log']
  # The pool started SDK workers, and they read the data: the launching process read none of it.
  assert 'Starting worker with command' in logs[f'{run_id}-worker-pool.log']
  assert not READ_LINE.search(logs[f'{run_id}.log'])
  read = READ_LINE.findall(logs[f'{run_id}-worker-pool.log'])
  assert {name for name, _, _ in read} == {'train.tsv', 'dev.tsv'}, read
  assert sum(int(rows) for _, rows, _ in read) == 400 + 100
  # The in-process run read in its own process, and logged it in its own log.
  in_process_log = open(os.path.join(runs['in_process'][0], 'logs', f'{run_id_of(runs["in_process"][1])}.log'),
                        encoding='utf-8').read()
  assert len(READ_LINE.findall(in_process_log)) == 2

  # The same data either way: examples, vocabulary and transformed examples.
  other = runs['in_process'][2]
  for split in ('train', 'eval'):
    assert _examples(record, 'FileBasedExampleGen', 'examples', split) == _examples(
        other, 'FileBasedExampleGen', 'examples', split)
    assert _examples(record, 'Transform', 'transformed_examples', split) == _examples(
        other, 'Transform', 'transformed_examples', split)
  assert _vocabulary(record) == _vocabulary(other)
  # Transform wrote each split as 8 shards with its count beside them (components/sharded_transform.py).
  for split, rows in (('train', 400), ('eval', 100)):
    folder = os.path.join(record.node_output('Transform', 'transformed_examples').uri, f'Split-{split}')
    assert len(tf.io.gfile.glob(os.path.join(folder, '*.gz'))) == 8
    with tf.io.gfile.GFile(os.path.join(folder, TRANSFORMED_COUNTS_FILE)) as f:
      counts = json.load(f)
    assert counts['examples'] == rows == len(_examples(record, 'Transform', 'transformed_examples', split))
  assert record.pushed_version() and other.pushed_version()
  # Both services were stopped with the run: their ports take no connection any more.
  for port in re.search(r'job service localhost:(\d+)', result.stdout).groups() + tuple(
      re.findall(r'worker_pool_main.*?--service_port=(\d+)', logs[f'{run_id}-worker-pool.log'])[:1]):
    with socket.socket() as probe:
      assert probe.connect_ex(('localhost', int(port))) != 0, port
