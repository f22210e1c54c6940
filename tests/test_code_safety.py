"""The product code runs no code built from data: no eval/exec, no pickle-family loaders, no shell.

A static check over every module of the product's packages (the CLI reads paths, column names and patterns from
users, the pipeline reads data files, the scheduler starts child processes): a new `eval`, a `pickle.load`, a
`shell=True` or a command given as one string fails this test, with the file and line.
"""
import ast
import os

import pytest

from conftest import REPO

PRODUCT_PACKAGES = ('pipeline', 'components', 'preprocessing', 'trainer', 'records', 'predict', 'bench')
# Modules that deserialize by running code, or read formats that do (`dill` is what Beam pickles with).
UNSAFE_MODULES = {'pickle', 'cPickle', '_pickle', 'dill', 'cloudpickle', 'marshal', 'shelve', 'joblib'}
UNSAFE_BUILTINS = {'eval', 'exec', 'compile', '__import__'}
SHELL_CALLS = {('os', 'system'), ('os', 'popen'), ('subprocess', 'getoutput'), ('subprocess', 'getstatusoutput')}
PROCESS_CALLS = {'run', 'Popen', 'call', 'check_call', 'check_output'}


def _product_modules():
  for package in PRODUCT_PACKAGES:
    for directory, _, files in os.walk(os.path.join(REPO, package)):
      for name in sorted(files):
        if name.endswith('.py'):
          yield os.path.relpath(os.path.join(directory, name), REPO)


def _dotted(node) -> str:
  if isinstance(node, ast.Name):
    return node.id
  if isinstance(node, ast.Attribute):
    return f'{_dotted(node.value)}.{node.attr}'
  return ''


def _is_constant_text(node) -> bool:
  """A string literal, or literals joined by + (no f-string, no variable)."""
  if isinstance(node, ast.Constant):
    return isinstance(node.value, str)
  if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
    return _is_constant_text(node.left) and _is_constant_text(node.right)
  return False


def unsafe_uses(source: str, path: str):
  """(line, what) for every unsafe construct in one module's source."""
  found = []
  tree = ast.parse(source, path)
  constants = {}  # module- and function-level names bound once to constant text (a `python -c` program)
  for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
      constants[node.targets[0].id] = _is_constant_text(node.value) and constants.get(node.targets[0].id, True)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found += [(node.lineno, f'import {a.name}') for a in node.names if a.name.split('.')[0] in UNSAFE_MODULES]
    elif isinstance(node, ast.ImportFrom) and (node.module or '').split('.')[0] in UNSAFE_MODULES:
      found.append((node.lineno, f'from {node.module} import ...'))
    elif isinstance(node, ast.Call):
      name = _dotted(node.func)
      if name in UNSAFE_BUILTINS:
        found.append((node.lineno, f'{name}(...)'))
      if tuple(name.rsplit('.', 1)) in SHELL_CALLS:
        found.append((node.lineno, f'{name}(...) runs a shell'))
      if name in ('yaml.load', 'yaml.unsafe_load', 'yaml.full_load'):
        found.append((node.lineno, f'{name}(...) can build arbitrary objects; use yaml.safe_load'))
      for keyword in node.keywords:
        if keyword.arg == 'shell' and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
          found.append((node.lineno, f'{name}(..., shell=...)'))
      if name.startswith('subprocess.') and name.split('.')[-1] in PROCESS_CALLS and node.args:
        command = node.args[0]
        if not isinstance(command, (ast.List, ast.Tuple, ast.Name)):
          found.append((node.lineno, f'{name}(...) with a command that is not an argument list'))
        elif isinstance(command, (ast.List, ast.Tuple)):
          items = list(command.elts)
          for flag, program in zip(items, items[1:]):
            if isinstance(flag, ast.Constant) and flag.value == '-c' and not (
                _is_constant_text(program) or (isinstance(program, ast.Name) and constants.get(program.id))):
              found.append((node.lineno, f'{name}(...) runs `python -c` on a program that is not a constant'))
  return found


def test_no_eval_pickle_or_shell_in_the_product_code():
  problems = []
  for path in _product_modules():
    with open(os.path.join(REPO, path), encoding='utf-8') as f:
      source = f.read()
    problems += [f'{path}:{line}: {what}' for line, what in unsafe_uses(source, path)]
  assert not problems, 'unsafe constructs in the product code:\n' + '\n'.join(problems)


@pytest.mark.parametrize('source,what', [
    ('x = eval(text)', 'eval(...)'),
    ('import pickle', 'import pickle'),
    ('from dill import loads', 'from dill import ...'),
    ('import subprocess\nsubprocess.run(f"ls {path}", shell=True)', 'subprocess.run(..., shell=...)'),
    ('import subprocess\nsubprocess.run("ls " + path)', 'with a command that is not an argument list'),
    ('import os\nos.system(command)', 'os.system(...) runs a shell'),
    ('import subprocess, sys\nsubprocess.run([sys.executable, "-c", f"print({path!r})"])', 'not a constant'),
    ('import yaml\nyaml.load(text)', 'yaml.load(...)'),
])
def test_the_check_finds_each_unsafe_construct(source, what):
  uses = unsafe_uses(source, 'example.py')
  assert any(what in found for _, found in uses), uses


def test_the_check_accepts_argument_lists_and_constant_programs():
  source = ('import subprocess, sys\n'
            'program = "import sys\\n" + "print(sys.argv[1])\\n"\n'
            'subprocess.run([sys.executable, "-c", program, path], check=True)\n'
            'subprocess.run(["tfx-lstm", "run", task], shell=False)\n')
  assert unsafe_uses(source, 'example.py') == []
