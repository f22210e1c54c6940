"""Code fingerprints for module functions referenced by dotted path.

The pipeline references `preprocessing_fn` and `run_fn` by dotted path from the installed package (what a
Kubeflow image needs: the code is in the image, nothing is uploaded at compile time). TFX then caches on the
path alone, so an edited module would be served from cache. The fingerprint closes that hole: a hash of the
function's module and of every project module it imports, directly or not, which the pipeline puts into the
component's `custom_config`. The project's own components get one too (`module_fingerprint`), since TFX caches
them on their class path alone. Editing a module re-executes exactly the components whose code reads it; another
task's modules are not in its closure, so its cache stays valid.
"""
import ast
import hashlib
import os
from typing import List, Optional

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE_KEY = 'code'  # the fingerprint's name in a component's config or parameters

# Modules of plain dataclasses with defaults: what they say reaches the components' configs as values (a renamed or
# added field too), so editing one task's defaults leaves the other tasks' fingerprints alone.
VALUES_ONLY = ('preprocessing/options.py', 'trainer/hyperparameters.py')
PROJECT_PACKAGES = ('cli', 'components', 'core', 'orchestration', 'pipeline', 'predict', 'preprocessing', 'records',
                    'trainer')


def _module_file(module: str, source_root: str) -> Optional[str]:
  """The file of a project module (or package), or None when it is not one."""
  if module.split('.')[0] not in PROJECT_PACKAGES:
    return None
  base = os.path.join(source_root, *module.split('.'))
  for candidate in (base + '.py', os.path.join(base, '__init__.py')):
    if os.path.isfile(candidate):
      return candidate
  return None


def _imported_modules(path: str) -> List[str]:
  """Every module named by the import statements of a file (`from a import b` names both a and a.b)."""
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read(), filename=path)
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names.append(node.module)
      names += [f'{node.module}.{alias.name}' for alias in node.names]
  return names


def module_closure(module: str, source_root: Optional[str] = None) -> List[str]:
  """Paths (relative to `source_root`, default: this package's root) of `module` and of the project modules it
  imports, transitively."""
  source_root = source_root or PACKAGE_ROOT
  seen, pending = {}, [module]
  while pending:
    path = _module_file(pending.pop(), source_root)
    if path is None or path in seen:
      continue
    seen[path] = True
    pending += _imported_modules(path)
  return sorted(os.path.relpath(p, source_root) for p in seen)


def code_fingerprint(dotted_function: str, source_root: Optional[str] = None) -> str:
  """sha256 (first 16 hex digits) over the source of the function's module closure."""
  return module_fingerprint(dotted_function.rsplit('.', 1)[0], source_root)


def module_fingerprint(module: str, source_root: Optional[str] = None) -> str:
  """sha256 (first 16 hex digits) over the source of a module's closure, less the values-only modules."""
  source_root = source_root or PACKAGE_ROOT
  closure = module_closure(module, source_root)
  if not closure:
    raise ValueError(f'{module} is not a module of this project under {source_root}')
  digest = hashlib.sha256()
  for relative in closure:
    if relative in VALUES_ONLY:
      continue
    digest.update(relative.encode('utf-8') + b'\0')
    with open(os.path.join(source_root, relative), 'rb') as f:
      digest.update(f.read() + b'\0')
  return digest.hexdigest()[:16]
