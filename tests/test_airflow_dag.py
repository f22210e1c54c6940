"""Tier 3: the DAG `tfx-lstm airflow-dag` writes, run by Apache Airflow itself (`airflow dags test`, SQLite).

Needs the airflow extra (`make test` installs it); without it the test skips, naming the install command.
"""
import ast
import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO, run_cli, sst2_head
from records import run_record

pytestmark = pytest.mark.e2e

INSTALL = 'pip install -c constraints.txt -e ".[airflow]"  (make test installs it)'
DAG_ID = 'tfx-lstm-sentiment'


def _airflow(env, *args, timeout=1200):
  return subprocess.run([sys.executable, '-m', 'airflow', *args], cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=timeout)


def test_generated_dag_runs_the_pipeline_under_airflow(tmp_path):
  if importlib.util.find_spec('airflow') is None:  # not importorskip: importing airflow writes ~/airflow
    pytest.skip(f'Apache Airflow is not installed; install the extra with: {INSTALL}')
  data, root, dags = sst2_head(tmp_path / 'data', 400), str(tmp_path / 'root'), tmp_path / 'dags'
  dag_file = str(dags / 'tfx_lstm_sentiment.py')
  written = run_cli('airflow-dag', 'sentiment', '--output', dag_file, '--cron', '0 3 * * *', '--data', data,
                    '--root', root, '--min-auc', '0', '--epochs', '1', '--units', '8', '--embedding-dim', '8')
  assert written.returncode == 0, written.stdout + written.stderr
  assert written.stdout.strip() == dag_file
  with open(dag_file) as f:
    source = f.read()
  assignments = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body
                 if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Dict, ast.Constant))}
  settings = assignments['SETTINGS']  # every flag of `run sentiment`, by name
  assert (settings['task'], settings['data'], settings['root'], settings['epochs']) == ('sentiment', data, root, 1)
  assert assignments['CRON'] == '0 3 * * *'
  # The DAG file imports a runner, not the CLI.
  assert 'from orchestration import airflow_runner' in source and 'cli' not in source.split('"""')[-1]

  home = tmp_path / 'airflow_home'
  env = dict(os.environ, AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
             AIRFLOW__CORE__LOAD_EXAMPLES='False', AIRFLOW__CORE__EXECUTOR='SequentialExecutor',
             AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f'sqlite:///{home}/airflow.db',
             # Parsing a TFX DAG imports TensorFlow and reads the data: far over Airflow's 30 s default.
             AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT='600', TF_USE_LEGACY_KERAS='1')
  migrated = _airflow(env, 'db', 'migrate', timeout=300)
  assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
  result = _airflow(env, 'dags', 'test', DAG_ID, '2026-01-02', '-S', dag_file)
  assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]

  # Airflow's run is in the root's ML Metadata like a local run: every component executed, a model pushed.
  metadata_path = os.path.join(root, 'metadata.sqlite')
  run_ids = run_record.run_ids(metadata_path, DAG_ID)
  assert len(run_ids) == 1, run_ids
  record = run_record.read_run(metadata_path, run_ids[0])
  assert {'FileBasedExampleGen', 'DataCheck', 'Transform', 'Trainer', 'Evaluator', 'Pusher'} <= set(
      record.nodes_in_state('COMPLETE')), record.execution_states
  assert record.pushed_version() and os.path.isdir(os.path.join(root, 'serving', 'sentiment',
                                                                record.pushed_version()))
  assert run_ids[0] == f'{DAG_ID}.manual__2026-01-02T00:00:00+00:00'  # TFX's Airflow runner names runs so
  listed = run_cli('runs', '--root', root)
  assert run_ids[0] in listed.stdout and 'complete' in listed.stdout, listed.stdout
  serving = run_cli('serving', 'sentiment', '--root', root)
  assert serving.stdout.splitlines()[1].split()[:3] == [record.pushed_version(), '*', run_ids[0]], serving.stdout
  report = run_cli('report', '--root', root, '--run', run_ids[0], '--output', str(tmp_path / 'airflow.html'))
  assert report.returncode == 0, report.stderr
  with open(tmp_path / 'airflow.html', encoding='utf-8') as f:
    assert 'data-metric="auc"' in f.read()
