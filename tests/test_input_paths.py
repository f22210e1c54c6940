"""Input selectors cannot leave --data, and names that become file names cannot leave --root."""
import os

import pytest

from core.data_contract import DataContractError
from conftest import REPO, run_cli
from core.layout import RootLayout
from orchestration import local_runner
from pipeline import tasks
from cli import main as cli

TRANSLATE_SAMPLE = os.path.join(REPO, 'data', 'fra_eng')


@pytest.mark.parametrize('pattern', ['../*.txt', '../fra_eng/*.txt', 'sub/../../*.txt', '/etc/*', '~/*.txt',
                                     '..\\*.txt', ''])
def test_a_pattern_cannot_leave_the_data_directory(tmp_path, capsys, pattern):
  root = tmp_path / 'root'
  status = cli.main(['run', 'translate', '--data', TRANSLATE_SAMPLE, '--pattern', pattern, '--root', str(root)])
  assert status == 2
  err = capsys.readouterr().err
  assert f'--pattern {pattern!r} must be a file pattern inside --data' in err and 'nothing was run.' in err
  assert not (root / 'metadata.sqlite').exists() and not (root / 'pipelines').exists()


def test_the_pipeline_factory_refuses_such_a_pattern_too():
  """Runners other than the CLI (Airflow, Kubeflow) build the task spec without the CLI's check."""
  from core import data_contract  # pylint: disable=g-import-not-at-top
  with pytest.raises(DataContractError, match='must be a file pattern inside --data'):
    tasks.translate_task(data_contract.translate_format(), '../*.txt')
  assert tasks.translate_task(data_contract.translate_format(), 'pairs/*.txt').input_splits == (
      ('pairs', 'pairs/*.txt'),)


@pytest.mark.parametrize('argv', [
    ['summary', '--run', '../../etc/passwd'],
    ['report', '--run', 'a/b'],
    ['report', '--compare', 'sentiment-1', '../x'],
    ['rollback', 'sentiment', '--to', '../1'],
])
def test_run_ids_and_versions_cannot_name_paths(tmp_path, argv):
  result = run_cli(*argv, '--root', str(tmp_path))
  assert result.returncode == 2, result.stderr
  assert 'is not a run id' in result.stderr or 'is not a version number' in result.stderr
  assert os.listdir(tmp_path) == []


def test_every_path_a_local_run_writes_is_under_its_root(tmp_path):
  layout = RootLayout.at(str(tmp_path / 'root'))
  root = os.path.join(str(tmp_path), 'root')
  paths = [layout.pipeline_root('sentiment'), layout.metadata_path, layout.serving_root('sentiment'), layout.logs,
           layout.locks, layout.beam, layout.report_file('r'), layout.comparison_file('a', 'b'),
           layout.schedule_state('sentiment'), layout.error_log('20261126T000000', 'abcd')]
  for path in paths:
    assert path.startswith(root + os.sep), path
  assert layout.log_file('sentiment-20261126T000000-abcd').startswith(layout.logs + os.sep)
  assert local_runner.keep_schema(layout, 'feature { name: "x" }\n').startswith(root + os.sep)
