"""What the README and docs/ show, checked against the code: every `tfx-lstm` command line in their examples parses
with today's parser, every `make` target they name exists, and every project file they name is there."""
import pathlib
import re
import shlex

import pytest

from cli import main as cli

REPO = pathlib.Path(__file__).resolve().parent.parent
PAGES = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md')), REPO / 'bench' / 'README.md']
PRODUCT_FOLDERS = ('cli', 'core', 'orchestration', 'pipeline', 'components', 'preprocessing', 'trainer', 'records',
                   'predict', 'bench', 'tests', 'data', 'docs')


def _code_blocks(text: str):
  """The lines of each fenced code block, with a line ending in a backslash joined to the next."""
  for block in re.findall(r'^```[^\n]*\n(.*?)^```', text, flags=re.S | re.M):
    yield block.replace('\\\n', ' ').splitlines()


def _command_lines():
  for page in PAGES:
    for lines in _code_blocks(page.read_text(encoding='utf-8')):
      for line in lines:
        command = line.strip().removeprefix('$ ').removeprefix('.venv/bin/')
        # `tfx-lstm forecast: 17,520 rows ...` is a run's output, not a command.
        if command.startswith('tfx-lstm ') and not re.match(r'tfx-lstm [\w-]+:', command):
          yield page.relative_to(REPO), command


COMMANDS = list(_command_lines())


def test_the_docs_show_commands():
  assert len(COMMANDS) >= 10 and {str(page) for page, _ in COMMANDS} >= {'README.md'}


@pytest.mark.parametrize('page, command', COMMANDS, ids=[f'{p}: {c[:60]}' for p, c in COMMANDS])
def test_every_documented_command_line_parses(page, command):
  argv = shlex.split(command.split(' #', 1)[0], comments=False)[1:]  # a trailing '# ...' is the example's note
  try:
    cli.build_parser().parse_args(argv)
  except SystemExit as e:
    assert e.code == 0, f'{page}: `{command}` is not a valid command line today'


def test_every_make_target_the_docs_name_exists():
  makefile = (REPO / 'Makefile').read_text(encoding='utf-8')
  targets = set(re.findall(r'^([a-z][a-z-]*):', makefile, flags=re.M))
  named = set()
  for page in PAGES:
    for lines in _code_blocks(page.read_text(encoding='utf-8')):
      named |= {m.group(1) for line in lines if (m := re.match(r'\s*make ([a-z][a-z-]*)', line))}
  assert named and named <= targets, named - targets


def test_every_project_file_the_docs_name_exists():
  missing = []
  pattern = re.compile(r'`((?:%s)/[\w./-]*\w)`' % '|'.join(PRODUCT_FOLDERS))
  for page in PAGES:
    for path in pattern.findall(page.read_text(encoding='utf-8')):
      if '*' not in path and '<' not in path and not (REPO / path).exists():
        missing.append(f'{page.relative_to(REPO)}: {path}')
  assert not missing, '\n'.join(missing)
