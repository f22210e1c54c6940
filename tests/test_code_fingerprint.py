"""Tier 1: code fingerprints decide what a code edit re-runs. Edits are made in a copy of the source tree."""
import os
import shutil

import pytest

from pipeline import code_fingerprint
from pipeline import tasks
from core.data_contract import translate_format, TextFormat

PACKAGES = code_fingerprint.PROJECT_PACKAGES
FUNCTIONS = {
    'forecast': ('preprocessing.forecast_transform.preprocessing_fn', 'trainer.forecast_trainer.run_fn'),
    'sentiment': ('preprocessing.sentiment_transform.preprocessing_fn', 'trainer.sentiment_trainer.run_fn'),
    'translate': ('preprocessing.translate_transform.preprocessing_fn', 'trainer.translate_trainer.run_fn'),
}


@pytest.fixture
def source_copy(tmp_path):
  for package in PACKAGES:
    shutil.copytree(os.path.join(code_fingerprint.PACKAGE_ROOT, package), tmp_path / package,
                    ignore=shutil.ignore_patterns('__pycache__'))
  return tmp_path


def _fingerprints(root):
  return {(task, kind): code_fingerprint.code_fingerprint(function, str(root))
          for task, functions in FUNCTIONS.items() for kind, function in zip(('transform', 'trainer'), functions)}


def _edit(root, relative):
  with open(root / relative, 'a', encoding='utf-8') as f:
    f.write('\n# an edit\n')


def test_closure_follows_project_imports_only():
  closure = code_fingerprint.module_closure('trainer.sentiment_trainer')
  assert {'trainer/sentiment_trainer.py', 'trainer/common.py', 'trainer/hyperparameters.py',
          'preprocessing/sentiment_transform.py', 'preprocessing/text.py'} <= set(closure)
  assert not any('translate' in path or 'forecast' in path for path in closure)
  assert code_fingerprint.module_closure('preprocessing.forecast_transform') == [
      'preprocessing/forecast_transform.py']


def test_editing_one_tasks_trainer_changes_only_that_trainers_fingerprint(source_copy):
  before = _fingerprints(source_copy)
  _edit(source_copy, 'trainer/translate_trainer.py')
  after = _fingerprints(source_copy)
  assert {key for key in before if before[key] != after[key]} == {('translate', 'trainer')}


def test_editing_shared_text_code_changes_both_text_tasks(source_copy):
  before = _fingerprints(source_copy)
  _edit(source_copy, 'preprocessing/text.py')
  after = _fingerprints(source_copy)
  assert {key for key in before if before[key] != after[key]} == {
      ('sentiment', 'transform'), ('sentiment', 'trainer'), ('translate', 'transform'), ('translate', 'trainer')}


def test_task_configs_split_transform_from_training(source_copy, monkeypatch):
  """Transform's custom_config holds only what preprocessing_fn reads (and its fingerprint): a training-only
  change or another task's code edit leaves it, and so Transform's cache key, unchanged."""
  from trainer.hyperparameters import SentimentHyperparameters  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(code_fingerprint, 'PACKAGE_ROOT', str(source_copy))
  text_format = TextFormat(columns=('text', 'label'))
  base = tasks.sentiment_task((('train', 'train*'),), text_format)
  assert set(base.transform_config) == {'text_column', 'label_column', 'vocab_size', 'max_length',
                                        'num_oov_buckets', tasks.CODE_KEY}
  longer = tasks.sentiment_task((('train', 'train*'),), text_format,
                                hyperparameters=SentimentHyperparameters(epochs=9, learning_rate=0.1, replicas=2))
  assert longer.transform_config == base.transform_config and longer.trainer_config != base.trainer_config
  translate_before = tasks.translate_task(translate_format())
  _edit(source_copy, 'trainer/translate_trainer.py')
  translate_after = tasks.translate_task(translate_format())
  assert tasks.sentiment_task((('train', 'train*'),), text_format).transform_config == base.transform_config
  assert tasks.sentiment_task((('train', 'train*'),), text_format).trainer_config == base.trainer_config
  assert translate_after.transform_config == translate_before.transform_config
  assert translate_after.trainer_config[tasks.CODE_KEY] != translate_before.trainer_config[tasks.CODE_KEY]


def test_editing_defaults_changes_no_fingerprint(source_copy):
  """Defaults reach the configs as values; the code of every task stays as it was."""
  before = _fingerprints(source_copy)
  for values_only in code_fingerprint.VALUES_ONLY:
    _edit(source_copy, values_only)
  assert _fingerprints(source_copy) == before


def test_components_have_fingerprints_of_their_own(source_copy):
  before = code_fingerprint.module_fingerprint('components.windowing', str(source_copy))
  example_gen = code_fingerprint.module_fingerprint('components.text_example_gen', str(source_copy))
  _edit(source_copy, 'core/data_contract.py')  # read by both the windowing and the ExampleGen
  assert code_fingerprint.module_fingerprint('components.windowing', str(source_copy)) != before
  assert code_fingerprint.module_fingerprint('components.text_example_gen', str(source_copy)) != example_gen
