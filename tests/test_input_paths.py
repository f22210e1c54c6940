"""Input selectors cannot leave --data, and names that become file names cannot leave --root."""
import os

import pytest

from components.data_contract import DataContractError
from conftest import REPO, run_cli
from pipeline import local_runner
from pipeline import tasks
from pipeline import cli

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
  from components import data_contract  # pylint: disable=g-import-not-at-top
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
  paths = local_runner.RunPaths.under(str(tmp_path / 'root'), 'sentiment')
  root = os.path.join(str(tmp_path), 'root')
  for name in ('pipeline_root', 'metadata_path', 'serving_root', 'logs', 'locks', 'beam'):
    assert getattr(paths, name).startswith(root + os.sep), name
  assert paths.log_file('sentiment-20261126T000000-abcd').startswith(paths.logs + os.sep)
  assert paths.keep_schema('feature { name: "x" }\n').startswith(root + os.sep)
