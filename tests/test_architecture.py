"""The house rules (docs/architecture.md), checked on the sources: imports run one way down the layers, every name
of a run root is spelled in core/ only, and the commands that need no TensorFlow do not import it."""
import ast
import os
import pathlib
import subprocess
import sys

import pytest

from core import layout
from core import names

REPO = pathlib.Path(__file__).resolve().parent.parent

# Package -> layer; a module imports its own package and packages of lower layers only. components/ and trainer/
# share a layer and never import each other: what both need lives in core/ (or preprocessing/ for feature keys).
LAYERS = {
    'cli': 5,
    'orchestration': 4,
    'pipeline': 3, 'records': 3, 'predict': 3,
    'components': 2, 'trainer': 2,
    'preprocessing': 1,
    'core': 0,
}
PRODUCT = sorted(LAYERS)


def _product_files():
  for package in PRODUCT:
    yield from sorted((REPO / package).rglob('*.py'))


def _imported_packages(path: pathlib.Path):
  """(line, project package) for every import of a project module in the file, at any depth (imports inside
  functions count: they run too)."""
  tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
      modules = [node.module]
    else:
      continue
    for module in modules:
      top = module.split('.')[0]
      if top in LAYERS:
        yield node.lineno, top


def test_imports_run_one_way_down_the_layers():
  wrong = []
  for path in _product_files():
    own = path.relative_to(REPO).parts[0]
    for line, imported in _imported_packages(path):
      if imported != own and LAYERS[imported] >= LAYERS[own]:
        wrong.append(f'{path.relative_to(REPO)}:{line} imports {imported}/ (layer {LAYERS[imported]}, '
                     f'not below {own}/ at {LAYERS[own]})')
  assert not wrong, '\n'.join(wrong)


def test_the_layer_rule_catches_an_import_against_it(tmp_path):
  # The check above parses real sources; this proves it sees imports inside functions and `from x import y`.
  sample = tmp_path / 'sample.py'
  sample.write_text('import os\ndef f():\n  from trainer import common\n  import components.metrics\n')
  assert list(_imported_packages(sample)) == [(3, 'trainer'), (4, 'components')]


# Names distinctive enough to search for as they are: files and folders of a serving directory and the root, and
# what the project writes in ML Metadata (core/layout.py, core/names.py).
DISTINCT_NAMES = {
    layout.METADATA_FILE, layout.COMPLETE_MARKER, layout.WARM_START_DIR, layout.STAGING_PREFIX,
    layout.REMOVING_PREFIX, names.FAILURE_PROPERTY, names.PLANNED_NODES_PROPERTY, names.SPANS_READ_PROPERTY,
    names.SERVED_VERSION_PROPERTY, names.SERVED_FROM_PROPERTY, names.ROLLBACK_EXECUTION_TYPE,
    names.ROLLBACK_OF_PROPERTY, names.RUN_CONTEXT,
}
# The root's folders are common words ('serving' is also a command, 'reports' a Beam output tag): they count where
# they build a path: as an argument of a path join, or as a segment of a path in a string.
ROOT_FOLDERS = {layout.PIPELINES, layout.SERVING, layout.LOGS, layout.REPORTS, layout.LOCKS, layout.SCHEDULES,
                layout.SCHEMAS}


def _spelled_names(path: pathlib.Path):
  """(line, text) of each string in the file that spells a name core/ owns. Docstrings are prose and dict keys
  name template fields: neither is looked at."""
  tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
  skipped = set()
  for node in ast.walk(tree):
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
      first = node.body[0]
      if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        skipped.add(id(first.value))
    elif isinstance(node, ast.Dict):
      skipped |= {id(key) for key in node.keys if key is not None}
  joined = set()  # string arguments of path joins: os.path.join(..., 'logs'), pathlib's root / 'logs'
  for node in ast.walk(tree):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ('join', 'joinpath'):
      joined |= {id(arg) for arg in node.args}
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
      joined |= {id(node.left), id(node.right)}
  for node in ast.walk(tree):
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skipped:
      continue
    text = node.value
    # A path has no spaces: help text and messages that show the layout to a user are prose.
    segments = set(text.strip('/').split('/')) if '/' in text and not any(c.isspace() for c in text) else set()
    if (text in DISTINCT_NAMES or text.startswith(names.PIPELINE_PREFIX)
        or (id(node) in joined and text in ROOT_FOLDERS) or segments & ROOT_FOLDERS):
      yield node.lineno, text


def test_root_layout_and_metadata_names_are_spelled_in_core_only():
  spelled = []
  for path in [*_product_files(), *sorted((REPO / 'bench').glob('*.py'))]:
    if path.relative_to(REPO).parts[0] != 'core':
      spelled += [f'{path.relative_to(REPO)}:{line} {text!r}' for line, text in _spelled_names(path)]
  assert not spelled, 'spell these through core/layout.py or core/names.py:\n' + '\n'.join(spelled)


def test_the_name_check_sees_what_it_must_and_not_prose(tmp_path):
  sample = tmp_path / 'sample.py'
  sample.write_text('"""Docstring: logs/ and serving/ are prose."""\nimport os\n'
                    'task = "x"\npath = f"tfx-lstm-{task}"\nstore = "metadata.sqlite"\n'
                    'logs = os.path.join(task, "logs")\nserving = f"{task}/serving/{task}"\n'
                    'command = "serving"\nfields = {"warm_start": 1}\n')
  assert sorted(text for _, text in _spelled_names(sample)) == ['/serving/', 'logs', 'metadata.sqlite', 'tfx-lstm-']


def test_the_layout_is_what_core_documents(tmp_path):
  root = layout.RootLayout.at(str(tmp_path))
  assert root.metadata_path == str(tmp_path / 'metadata.sqlite')
  assert root.pipeline_root('forecast') == str(tmp_path / 'pipelines' / 'forecast')
  assert root.serving_root('forecast') == str(tmp_path / 'serving' / 'forecast')
  assert root.log_file('r1') == str(tmp_path / 'logs' / 'r1.log')
  assert root.report_file('r1') == str(tmp_path / 'reports' / 'r1.html')
  assert root.schedule_state('forecast') == str(tmp_path / 'schedules' / 'forecast.json')
  assert layout.version_path(root.serving_root('forecast'), '17') == str(tmp_path / 'serving' / 'forecast' / '17')
  remote = layout.RootLayout.at('gs://bucket/tfx-lstm/')
  assert remote.serving_root('sentiment') == 'gs://bucket/tfx-lstm/serving/sentiment'
  assert names.pipeline_name('sentiment') == 'tfx-lstm-sentiment' and names.task_of('tfx-lstm-sentiment') == 'sentiment'
  assert names.task_of('imdb_native_keras') is None


def test_core_imports_no_tensorflow_tfx_or_beam():
  heavy = {'tensorflow', 'tfx', 'apache_beam', 'tensorflow_transform', 'ml_metadata'}
  for path in sorted((REPO / 'core').glob('*.py')):
    tree = ast.parse(path.read_text(encoding='utf-8'))
    imported = {alias.name.split('.')[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split('.')[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    # The one exception: core/storage.py reads a URI (gs://...) through tf.io.gfile, imported when one is met.
    allowed = {'tensorflow'} if path.name == 'storage.py' else set()
    assert not imported & heavy - allowed, path
  result = _fresh('import sys, core.storage, core.data_contract, core.layout, core.names\n'
                  'core.data_contract.check_sentiment_data("data/sst2")\n'
                  'assert "tensorflow" not in sys.modules')
  assert result.returncode == 0, result.stderr[-2000:]


# ----------------------------------------------------------------------------------------------------
# Start-up cost: a fresh interpreter per check, as a user's shell starts one.

def _fresh(code: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, TF_USE_LEGACY_KERAS='1'))


@pytest.mark.parametrize('module', sorted(
    f'cli.{p.stem}' for p in (REPO / 'cli').glob('*.py') if p.stem not in ('__init__', '__main__')))
def test_importing_a_command_module_imports_no_tensorflow(module):
  result = _fresh(f'import sys, {module}\nassert "tensorflow" not in sys.modules, "tensorflow"\n'
                  f'assert "tfx" not in sys.modules, "tfx"\nassert "apache_beam" not in sys.modules, "beam"')
  assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize('argv', [
    ['--help'], ['run', 'forecast', '--help'], ['compile', 'sentiment', '--help'],
    ['run', 'sentiment', '--data', '/nonexistent/reviews'],  # the pre-flight's error
    ['run', 'translate', '--data', 'data/fra_eng', '--max-source-length', '0'],
])
def test_help_and_pre_flight_errors_load_no_tensorflow(argv, tmp_path):
  # The whole command, not only its module: what a user waits for when a flag or a path is wrong.
  code = ('import sys\nfrom cli import main\ntry:\n  status = main.main(sys.argv[1:])\nexcept SystemExit as e:\n'
          '  status = e.code\nprint("status", status, "tensorflow" in sys.modules)')
  result = subprocess.run([sys.executable, '-c', code, *argv, *(['--root', str(tmp_path)] if argv[0] == 'run'
                                                               and '--help' not in argv else [])],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
  expected = 0 if '--help' in argv else 2
  assert result.stdout.splitlines()[-1] == f'status {expected} False', result.stdout[-500:] + result.stderr[-2000:]
