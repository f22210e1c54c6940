"""Tier 1: the pure parts of retraining: span selection and the data state, the ExampleGen's span patterns,
vocabulary row remapping, the data check's comparators, the schedule/airflow argument handling."""
import ast
import os

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from core import data_contract
from components import text_example_gen
from components.data_check import with_comparators
from orchestration import airflow_runner
from cli import main as cli
from cli import run as run_command
from pipeline import preflight
from trainer import common


def _spans(tmp_path, *names, files=('a.csv',)):
  for name in names:
    os.makedirs(tmp_path / name)
    for f in files:
      (tmp_path / name / f).write_text('x\n1\n')
  return str(tmp_path)


def test_select_spans_newest_last_k_and_pinned(tmp_path):
  root = _spans(tmp_path, 'span-1', 'span-2', 'span-10', 'other')
  assert data_contract.select_spans(root, 1).spans == (10,)
  assert data_contract.select_spans(root, 2).spans == (2, 10)
  assert data_contract.select_spans(root, 0).spans == (1, 2, 10)
  pinned = data_contract.select_spans(root, 0, span=2)
  assert pinned.spans == (1, 2) and pinned.directories == [f'{root}/span-1', f'{root}/span-2']
  assert pinned.pattern('train*') == 'span-{SPAN}/train*' and pinned.describe() == 'spans 1-2 of 3 span folder(s)'
  os.makedirs(tmp_path / 'flat')
  flat = data_contract.select_spans(str(tmp_path / 'flat'), 1)
  assert flat.spans == () and flat.pattern('*.csv') == '*.csv' and flat.directories == [str(tmp_path / 'flat')]


@pytest.mark.parametrize('layout,message', [
    (('span-01',), 'name span folders without leading zeros (span-1)'),
    (('span-1', 'loose.csv'), 'has span-<N> folders and data files beside them (loose.csv)'),
])
def test_select_spans_refuses_ambiguous_layouts(tmp_path, layout, message):
  for name in layout:
    if name.endswith('.csv'):
      (tmp_path / name).write_text('x\n1\n')
    else:
      os.makedirs(tmp_path / name)
  with pytest.raises(data_contract.DataContractError, match=message.replace('(', r'\(').replace(')', r'\)')):
    data_contract.select_spans(str(tmp_path), 1)


def test_select_spans_unknown_pinned_span_names_the_spans(tmp_path):
  root = _spans(tmp_path, 'span-1', 'span-3')
  with pytest.raises(data_contract.DataContractError, match=r'--span 2: no folder span-2 .* \(spans: 1, 3\)'):
    data_contract.select_spans(root, 1, span=2)


def test_data_state_changes_with_a_new_span_or_a_changed_file(tmp_path):
  root = _spans(tmp_path, 'span-1')
  first = data_contract.data_state(root)
  assert first.startswith('span 1 ') and data_contract.data_state(root) == first
  os.makedirs(tmp_path / 'span-2')
  (tmp_path / 'span-2' / 'a.csv').write_text('x\n2\n')
  second = data_contract.data_state(root)
  assert second.startswith('span 2 ')
  (tmp_path / 'span-2' / 'a.csv').write_text('x\n2\n3\n')
  assert data_contract.data_state(root) not in (first, second)


def test_example_gen_reads_the_spans_before_the_resolved_one(tmp_path):
  root = _spans(tmp_path, 'span-1', 'span-2', 'span-4', 'span-7')
  assert text_example_gen.spans_read(root, 'span-4/*.csv', 0) == [1, 2, 4]
  assert text_example_gen.spans_read(root, 'span-4/*.csv', 2) == [2, 4]
  assert text_example_gen.span_patterns(root, 'span-4/train*', 2) == [f'{root}/span-2/train*', f'{root}/span-4/train*']
  assert text_example_gen.span_patterns(root, '*.csv', 0) == [f'{root}/*.csv']
  assert text_example_gen.spans_read(root, '*.csv', 0) == []


def test_remap_rows_moves_each_token_and_keeps_oov_buckets():
  old_vocabulary, new_vocabulary = ['[PAD]', 'a', 'b', 'c'], ['[PAD]', 'c', 'd', 'a']
  old = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)  # 4 tokens + 2 OOV buckets
  initial = -np.ones((6, 2), dtype=np.float32)
  remapped, carried = common.remap_rows(old, initial, old_vocabulary, new_vocabulary, axis=0)
  np.testing.assert_array_equal(remapped, [old[0], old[3], [-1, -1], old[1], old[4], old[5]])
  assert carried == 3
  # Along axis 1 (an output layer's kernel [units, vocabulary]).
  kernel, _ = common.remap_rows(old.T, initial.T, old_vocabulary, new_vocabulary, axis=1)
  np.testing.assert_array_equal(kernel, remapped.T)


def test_data_check_comparators_by_feature_type():
  schema = schema_pb2.Schema()
  schema.feature.add(name='text', type=schema_pb2.BYTES)
  schema.feature.add(name='label', type=schema_pb2.INT)
  schema.feature.add(name='pm25', type=schema_pb2.FLOAT)
  checked = with_comparators(schema, 0.2, 0.3)
  by_name = {f.name: f for f in checked.feature}
  assert by_name['text'].drift_comparator.infinity_norm.threshold == 0.2
  assert by_name['text'].skew_comparator.infinity_norm.threshold == 0.2
  for name in ('label', 'pm25'):
    assert by_name[name].drift_comparator.jensen_shannon_divergence.threshold == 0.3
    assert by_name[name].skew_comparator.jensen_shannon_divergence.threshold == 0.3
  assert not schema.feature[0].HasField('drift_comparator')  # the fixed schema itself is left alone


def test_schedule_and_airflow_dag_forward_the_run_flags():
  argv = ['schedule', 'sentiment', '--cron', '0 3 * * *', '--data', 'd', '--state-file=s.json', '--epochs', '2']
  assert run_command.run_argv_of(argv, 'schedule', ('--cron', '--state-file')) == ['run', 'sentiment', '--data', 'd',
                                                                         '--epochs', '2']
  args = cli.build_parser().parse_args(argv)
  assert (args.cron, args.state_file, args.epochs) == ('0 3 * * *', 's.json', 2)


def test_airflow_dag_settings_are_the_run_flags_with_absolute_paths(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  argv = ['airflow-dag', 'sentiment', '--output', 'dags/s.py', '--data', 'd', '--schema=s.pbtxt', '--epochs', '2']
  run_argv = run_command.run_argv_of(argv, 'airflow-dag', ['--output', '--cron'])
  settings = {k: v for k, v in vars(run_command.parse_run_argv(run_argv)).items() if k != 'handler'}
  path = airflow_runner.write_dag_file('dags/s.py', settings, run_argv, None)
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read())
  written = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
             and isinstance(node.value, (ast.Dict, ast.Constant))}
  assert written['CRON'] is None and written['SETTINGS']['epochs'] == 2 and written['SETTINGS']['task'] == 'sentiment'
  assert {name: written['SETTINGS'][name] for name in ('data', 'schema', 'root', 'embeddings')} == {
      'data': f'{tmp_path}/d', 'schema': f'{tmp_path}/s.pbtxt', 'root': f'{tmp_path}/runs', 'embeddings': ''}
  # Every flag of `run sentiment`, defaults included: the DAG needs nothing from the CLI to build the pipeline.
  assert set(written['SETTINGS']) == set(settings)


def test_retraining_flags_reach_the_task_spec(tmp_path):
  data = tmp_path / 'data'
  for span in (1, 2, 3):
    os.makedirs(data / f'span-{span}')
    (data / f'span-{span}' / 'pairs.txt').write_text('Go.\tVa !\nHi.\tSalut !\n')
  args = cli.build_parser().parse_args(['run', 'translate', '--data', str(data), '--spans', '2', '--span', '2',
                                        '--max-numeric-drift', '0.5'])
  checked = preflight.check_translate(args)
  task = checked.build_task()
  assert checked.spans.spans == (1, 2) and task.spans_back == 2 and task.span == 2
  assert task.input_splits == (('pairs', 'span-{SPAN}/*.txt'),)
  assert (task.data_gate.max_numeric_drift, task.data_gate.max_categorical_drift) == (0.5, 0.2)
  default = preflight.check_translate(cli.build_parser().parse_args(['run', 'translate', '--data', str(data)]))
  assert default.spans.spans == (3,) and default.build_task().spans_back == 1
