"""A failure nobody foresaw ends in one line of cause, the path of the traceback's log and a non-zero exit, never
in a traceback on the console."""
import os
import re

from conftest import run_cli


def test_a_corrupt_metadata_store_is_one_line_and_a_log(tmp_path):
  (tmp_path / 'metadata.sqlite').write_text('not a database\n')
  result = run_cli('summary', '--root', str(tmp_path), '--task', 'sentiment')
  assert result.returncode == 1, result.stdout + result.stderr
  assert 'Traceback' not in result.stderr + result.stdout
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 2 and lines[0].startswith('error: unexpected RuntimeError: '), result.stderr
  log = re.fullmatch(r'  traceback: (\S+)', lines[1]).group(1)
  assert os.path.dirname(log) == str(tmp_path / 'logs')
  with open(log, encoding='utf-8') as f:
    assert f.read().startswith('Traceback (most recent call last):')


def test_the_summary_reads_metrics_written_as_text():
  """Metrics that are not numbers (TFMA writes NaN and infinities as text in some outputs) print as n/a or inf."""
  from records import summary  # pylint: disable=g-import-not-at-top
  assert summary._fmt('inf') == 'inf' and summary._fmt('NaN') == 'n/a' and summary._fmt(None) == 'n/a'
  assert summary._fmt('0.25', '+.1%') == '+25.0%' and summary._fmt('abc') == 'n/a'
  lines = summary._forecast_lines({(): {'mae': 'inf', 'forecast_skill': '-inf', 'example_count': 3}})
  assert 'MAE inf' in lines[0] and 'skill -inf%' in lines[0]
