"""Bad input across the three tasks, one table per task: each case a small file generated from a few good lines
of the bundled samples with one thing broken, and the message it must get (file and line, or column).

Each table runs twice:
  - through the CLI (`tfx-lstm run TASK`, in-process): exit status 2, the message on stderr, and nothing changed
    under a run root that holds a previously pushed model. That root is made once per module: a small real
    SavedModel (a trivial tf.Module) in `serving/<task>/<version>/` and an empty ML Metadata store. A real pushed
    model would cost a full pipeline run per task, and would prove no more here: the pre-flight check rejects
    the data before the pipeline is even built, so nothing can reach the serving directory or the store; the
    test checks the files stay byte for byte the same and the store gets no context (no pipeline, no run).
  - through the pipeline's own ExampleGen executor with the CLI's pre-flight check bypassed, as on Kubeflow:
    the executor is built from the pipeline `tfx-lstm run` would run on a good sample (the way `tfx-lstm compile
    --data-sample` builds it), pointed at the bad files, and must fail with the same DataContractError message.
    One Beam pipeline per case, under a second each.
Cases a task does not have are left out: translate files have no header, no numeric column and no labels;
forecast files have no free text and no labels; sentiment files have no numeric column or time.

What only the windowing can see (a timestamp repeated in two files, here two span folders: each file is in order
on its own) is rejected by TimeSeriesWindowGen's executor; that message names the series and time, not a file
(`test_a_timestamp_in_two_span_files_is_rejected_by_the_windowing`).
"""
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import os
from typing import Dict, List

import pytest
import tensorflow as tf

from core.data_contract import TextFormat
from conftest import BUNDLED_FORECAST_CSV, REPO
from cli import console
from cli import main as cli
from cli import run as run_command
from orchestration import local_runner
from pipeline import preflight

SERVED_VERSION = '1700000000'  # the Pusher names versions by Unix time
MEGABYTE = 1_000_000


def _lines(path: str, count: int) -> List[str]:
  with open(path, encoding='utf-8') as f:
    return f.read().splitlines()[:count]


def _join(lines: List[str], latin1_line: int = 0) -> bytes:
  """The file's bytes: UTF-8, but line `latin1_line` (1-based) in Latin-1, as an old editor might save it."""
  return b''.join(line.encode('latin-1' if number == latin1_line else 'utf-8') + b'\n'
                  for number, line in enumerate(lines, start=1))


def _replaced(lines: List[str], index: int, line: str) -> List[str]:
  return lines[:index] + [line] + lines[index + 1:]


def _png() -> bytes:
  return tf.io.encode_png(tf.zeros([1, 1, 1], tf.uint8)).numpy()


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  files: Dict[str, bytes]  # the data directory's files
  message: str  # part of the error both the pre-flight check and ExampleGen must give
  layout: str = ''  # which good sample ExampleGen is configured from (default: the task's)


# ----------------------------------------------------------------------------------------------------
# Forecast: `sample.csv`, the header and 80 hourly rows of the bundled Beijing data; the cases break line 12
# (2013-01-01 10:00). Columns: datetime, pm2.5, DEWP, TEMP, PRES, cbwd, Iws, Is, Ir.

FORECAST = _lines(BUNDLED_FORECAST_CSV, 81)
FORECAST_HEADER = FORECAST[0].split(',')


def _forecast_cell(column: str, value: str, index: int = 11) -> List[str]:
  cells = FORECAST[index].split(',')
  cells[FORECAST_HEADER.index(column)] = value
  return _replaced(FORECAST, index, ','.join(cells))


def _forecast(content: bytes) -> Dict[str, bytes]:
  return {'sample.csv': content}


_LONG_FORECAST_LINE = len(_forecast_cell('cbwd', 'N' * MEGABYTE)[11])
FORECAST_CASES = [
    Case('missing column', _forecast(_join(_replaced(FORECAST, 0, FORECAST[0].replace('pm2.5', 'pm25')))),
         "sample.csv: column(s) 'pm2.5' not found; the header has: datetime, pm25, DEWP"),
    Case('extra column', _forecast(_join(_replaced(FORECAST, 11, FORECAST[11] + ',42'))),
         'sample.csv line 12: 10 field(s) (comma-separated, CSV quoting), expected 9 (datetime, pm2.5, DEWP, TEMP, '
         'PRES, cbwd, Iws, Is, Ir)'),
    Case('missing field', _forecast(_join(_replaced(FORECAST, 11, FORECAST[11].rsplit(',', 1)[0]))),
         'sample.csv line 12: 8 field(s) (comma-separated, CSV quoting), expected 9'),
    Case('text in a numeric column', _forecast(_join(_forecast_cell('TEMP', 'warm'))),
         "sample.csv line 12 column 'TEMP': 'warm' is not a number"),
    Case('not a timestamp', _forecast(_join(_forecast_cell('datetime', 'yesterday'))),
         "sample.csv line 12 column 'datetime': 'yesterday' is not a timestamp or date"),
    Case('nan', _forecast(_join(_forecast_cell('DEWP', 'NaN'))),
         "sample.csv line 12 column 'DEWP': 'NaN' is not a finite number (write a missing value as an empty cell "
         'or NA)'),
    Case('inf in the target', _forecast(_join(_forecast_cell('pm2.5', 'inf'))),
         "sample.csv line 12 column 'pm2.5': 'inf' is not a finite number"),
    Case('-infinity', _forecast(_join(_forecast_cell('Iws', '-Infinity'))),
         "sample.csv line 12 column 'Iws': '-Infinity' is not a finite number"),
    Case('not UTF-8', _forecast(_join(_forecast_cell('cbwd', 'N\u00b0W'), latin1_line=12)),
         'sample.csv line 12: not valid UTF-8 (byte 0xb0 at byte 37 of the line)'),
    Case('header only', _forecast(_join(FORECAST[:1])), 'sample.csv has a header (line 1) but no data rows'),
    Case('zero bytes', _forecast(b''), 'sample.csv is empty: expected a header row and data rows'),
    Case('duplicated timestamp', _forecast(_join(_forecast_cell('datetime', '2013-01-01 10:00:00', index=12))),
         'sample.csv lines 12 and 13: two rows at 2013-01-01 10:00:00 UTC'),
    Case('out of order', _forecast(_join(FORECAST[:11] + [FORECAST[12], FORECAST[11]] + FORECAST[13:])),
         'sample.csv line 13: 2013-01-01 10:00:00 is earlier than 2013-01-01 11:00:00 on line 12, but the rows '
         'before it are oldest first: rows must be in time order'),
    # Rows 2013-01-01 20:00 to 2013-01-03 01:00 left out: 30 missing hours, more than the 24-step window.
    Case('gap longer than the window', _forecast(_join(FORECAST[:21] + FORECAST[51:])),
         'sample.csv lines 21-22: no rows between 2013-01-01 19:00:00 and 2013-01-03 02:00:00, 30 missing steps '
         'of 1 hour: a gap longer than the 24 steps allowed'),
    Case('1 MB line', _forecast(_join(_forecast_cell('cbwd', 'N' * MEGABYTE))),
         f'sample.csv line 12: {_LONG_FORECAST_LINE:,} characters, more than the 100,000 allowed for one line'),
    Case('binary file', _forecast(gzip.compress(_join(FORECAST), mtime=0)),  # a gzipped CSV, not unpacked
         'sample.csv line 1: looks like a binary file, not text (a NUL byte at byte 4 of the line'),
]


# ----------------------------------------------------------------------------------------------------
# Sentiment: `train.tsv` (header and 20 rows of the bundled SST-2 sample; the cases break line 5) beside a good
# `dev.tsv`; one case is a single pooled `reviews.csv` (CSV quoting).

SENTIMENT_TRAIN = _lines(os.path.join(REPO, 'data', 'sst2', 'train.tsv'), 21)
SENTIMENT_DEV = _join(_lines(os.path.join(REPO, 'data', 'sst2', 'dev.tsv'), 11))


def _sentiment(train: bytes) -> Dict[str, bytes]:
  return {'train.tsv': train, 'dev.tsv': SENTIMENT_DEV}


def _sentiment_row(text: str, label: str = '1') -> List[str]:
  return _replaced(SENTIMENT_TRAIN, 4, f'{text}\t{label}')


def _reviews_csv(extra_field_on_line: int = 0) -> Dict[str, bytes]:
  out = io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  for number, line in enumerate(SENTIMENT_TRAIN, start=1):
    fields = [field.strip() for field in line.split('\t')]
    writer.writerow(fields + ['extra'] if number == extra_field_on_line else fields)
  return {'reviews.csv': out.getvalue().encode('utf-8')}


SENTIMENT_CASES = [
    Case('missing column', _sentiment(_join(_replaced(SENTIMENT_TRAIN, 0, 'sentence\tlabel'))),
         "train.tsv: column(s) 'text' not found; the header has: sentence, label (tab-separated, no quoting)"),
    Case('extra column', _sentiment(_join(_replaced(SENTIMENT_TRAIN, 4, SENTIMENT_TRAIN[4] + '\tdrama'))),
         'train.tsv line 5: 3 field(s) (tab-separated, no quoting), expected 2 (text, label)'),
    Case('extra column, CSV', _reviews_csv(extra_field_on_line=5),
         'reviews.csv line 5: 3 field(s) (comma-separated, CSV quoting), expected 2 (text, label)', layout='csv'),
    Case('missing field', _sentiment(_join(_replaced(SENTIMENT_TRAIN, 4, 'good . no tab 1'))),
         'train.tsv line 5: 1 field(s) (tab-separated, no quoting), expected 2 (text, label)'),
    Case('label not an integer', _sentiment(_join(_sentiment_row('a fine film', 'positive'))),
         "train.tsv line 5: 'label' is 'positive', not an integer"),
    Case('label outside {0, 1}', _sentiment(_join(_sentiment_row('a fine film', '2'))),
         "train.tsv line 5: 'label' is 2, expected one of [0, 1]"),
    Case('empty text', _sentiment(_join(_sentiment_row('  '))), "train.tsv line 5: empty 'text'"),
    Case('not UTF-8', _sentiment(_join(_sentiment_row('caf\u00e9 society'), latin1_line=5)),
         'train.tsv line 5: not valid UTF-8 (byte 0xe9 at byte 4 of the line)'),
    Case('header only', _sentiment(_join(SENTIMENT_TRAIN[:1])), 'train.tsv has a header (line 1) but no data rows'),
    Case('zero bytes', _sentiment(b''), 'train.tsv is empty: expected a header row and data rows'),
    Case('1 MB line', _sentiment(_join(_sentiment_row('a' * MEGABYTE))),
         f'train.tsv line 5: {MEGABYTE + 2:,} characters, more than the 100,000 allowed for one line'),
    Case('binary file', _sentiment(_png()),  # a PNG: its signature's \r\n and \n put the first NUL on line 3
         'train.tsv line 3: looks like a binary file, not text (a NUL byte at byte 1 of the line'),
]


# ----------------------------------------------------------------------------------------------------
# Translate: `pairs.txt`, 20 lines of the bundled Tatoeba sample without a header; the cases break line 5.

TRANSLATE = _lines(os.path.join(REPO, 'data', 'fra_eng', 'fra_eng_sample.txt'), 20)


def _pairs(lines: List[str], latin1_line: int = 0) -> Dict[str, bytes]:
  return {'pairs.txt': _join(lines, latin1_line)}


TRANSLATE_CASES = [
    Case('line without a tab', _pairs(_replaced(TRANSLATE, 4, 'Run! Cours !')),
         'pairs.txt line 5: 1 field(s) (tab-separated, no quoting), expected 2 (source, target)'),
    Case('extra column', _pairs(_replaced(TRANSLATE, 4, 'Run!\tCours !\tCC-BY 2.0\tone too many')),
         'pairs.txt line 5: 4 field(s) (tab-separated, no quoting), expected 2 (source, target) and at most 1 more '
         '(ignored)'),
    Case('empty source', _pairs(_replaced(TRANSLATE, 4, '\tCours !')), "pairs.txt line 5: empty 'source'"),
    Case('empty target', _pairs(_replaced(TRANSLATE, 4, 'Run!\t ')), "pairs.txt line 5: empty 'target'"),
    Case('not UTF-8', _pairs(_replaced(TRANSLATE, 4, 'Caf\u00e9.\tCaf\u00e9 !'), latin1_line=5),
         'pairs.txt line 5: not valid UTF-8 (byte 0xe9 at byte 4 of the line)'),
    Case('zero bytes', {'pairs.txt': b''}, 'pairs.txt is empty: expected data rows'),
    Case('1 MB line', _pairs(_replaced(TRANSLATE, 4, 'a' * MEGABYTE + '\tb')),
         f'pairs.txt line 5: {MEGABYTE + 2:,} characters, more than the 1,000 allowed for one line'),
    Case('binary file', {'pairs.txt': _png()},
         'pairs.txt line 3: looks like a binary file, not text (a NUL byte at byte 1 of the line'),
]

GOOD_SAMPLES = {
    'forecast': _forecast(_join(FORECAST)),
    'sentiment': _sentiment(_join(SENTIMENT_TRAIN)),
    'sentiment/csv': _reviews_csv(),
    'translate': _pairs(TRANSLATE),
}


def _write(directory, files: Dict[str, bytes]) -> str:
  os.makedirs(directory, exist_ok=True)
  for name, content in files.items():
    with open(os.path.join(directory, name), 'wb') as f:
      f.write(content)
  return str(directory)


# ----------------------------------------------------------------------------------------------------
# Through the CLI: exit 2, the message, the served model and the metadata untouched.

def _metadata_store(path: str, read_only: bool = False):
  from ml_metadata.metadata_store import metadata_store  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = path
  config.sqlite.connection_mode = (metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
                                   metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
  return metadata_store.MetadataStore(config)


class _Served(tf.Module):

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
  def __call__(self, x):
    return 2.0 * x


@pytest.fixture(scope='module')
def served_root(tmp_path_factory):
  """A run root with a pushed version of every task's model and a metadata store (see the module docstring)."""
  root = tmp_path_factory.mktemp('served_root')
  for task in ('forecast', 'sentiment', 'translate'):
    tf.saved_model.save(_Served(), str(root / 'serving' / task / SERVED_VERSION))
  _metadata_store(str(root / 'metadata.sqlite'))
  return str(root)


def _snapshot(root: str) -> Dict[str, tuple]:
  """Every directory and file under `root` (task locks aside: they coordinate runs, they are no run's output),
  files with size, modification time and content hash."""
  found = {}
  for base, directories, files in os.walk(root):
    relative = os.path.relpath(base, root)
    if relative.split(os.sep)[0] == 'locks':
      continue
    found.update({os.path.join(relative, d): 'directory' for d in directories if d != 'locks' or relative != '.'})
    for name in files:
      path = os.path.join(base, name)
      with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
      found[os.path.join(relative, name)] = (os.path.getsize(path), os.stat(path).st_mtime_ns, digest)
  return found


def _assert_rejected_by_cli(task: str, case: Case, root: str, data_dir, capsys) -> None:
  before = _snapshot(root)
  assert os.path.join('serving', task, SERVED_VERSION, 'saved_model.pb') in before
  status = cli.main(['run', task, '--data', _write(data_dir, case.files), '--root', root])
  stderr = capsys.readouterr().err
  assert status == console.EXIT_USER_ERROR, stderr
  assert case.message in stderr, stderr
  assert stderr.rstrip().endswith('nothing was run.'), stderr
  assert _snapshot(root) == before
  assert _metadata_store(os.path.join(root, 'metadata.sqlite'), read_only=True).get_contexts() == []


@pytest.mark.parametrize('case', FORECAST_CASES, ids=lambda case: case.name)
def test_forecast_bad_input_is_rejected_before_anything_runs(case, served_root, tmp_path, capsys):
  _assert_rejected_by_cli('forecast', case, served_root, tmp_path / 'data', capsys)


@pytest.mark.parametrize('case', SENTIMENT_CASES, ids=lambda case: case.name)
def test_sentiment_bad_input_is_rejected_before_anything_runs(case, served_root, tmp_path, capsys):
  _assert_rejected_by_cli('sentiment', case, served_root, tmp_path / 'data', capsys)


@pytest.mark.parametrize('case', TRANSLATE_CASES, ids=lambda case: case.name)
def test_translate_bad_input_is_rejected_before_anything_runs(case, served_root, tmp_path, capsys):
  _assert_rejected_by_cli('translate', case, served_root, tmp_path / 'data', capsys)


# ----------------------------------------------------------------------------------------------------
# Through the pipeline's own executors, without the CLI's pre-flight check.

@pytest.fixture(scope='module')
def built_pipeline(tmp_path_factory):
  """(layout) -> the pipeline `tfx-lstm run` builds on that layout's good sample (its pre-flight check passes)."""
  built = {}

  def build(layout: str, data_dir: str = ''):
    if layout not in built:
      data_dir = data_dir or _write(tmp_path_factory.mktemp('good'), GOOD_SAMPLES[layout])
      settings = run_command.parse_run_argv(['run', layout.split('/')[0], '--data', data_dir,
                                             '--root', str(tmp_path_factory.mktemp('root'))])
      task = preflight.check(settings.task, settings).build_task()
      built[layout] = local_runner.pipeline_from_settings(settings, task)
    return built[layout]

  return build


def _component(pipeline, component_id: str):
  (found,) = [c for c in pipeline.components if c.id == component_id]
  return found


def _beam_context(pipeline):
  """What TFX gives a Beam executor: the pipeline's Beam flags (the local runner's: an in-memory DirectRunner
  with one worker, and the empty requirements file that spares TFX packaging itself for workers)."""
  from tfx.dsl.components.base import base_beam_executor  # pylint: disable=g-import-not-at-top
  return base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(pipeline.beam_pipeline_args))


def _run_example_gen(pipeline, data_dir: str, output_uri: str, **overrides):
  """TFX's call of the pipeline's ExampleGen executor, Do(inputs, outputs, execution properties), on `data_dir`."""
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import text_example_gen  # pylint: disable=g-import-not-at-top
  examples = standard_artifacts.Examples()
  examples.uri = output_uri
  properties = {**_component(pipeline, 'FileBasedExampleGen').exec_properties, 'input_base': data_dir, **overrides}
  text_example_gen.Executor(_beam_context(pipeline)).Do({}, {'examples': [examples]}, properties)
  return examples


def _assert_rejected_by_example_gen(task: str, case: Case, build, tmp_path) -> None:
  pipeline = build(f'{task}/{case.layout}' if case.layout else task)
  with pytest.raises(Exception) as raised:
    _run_example_gen(pipeline, _write(tmp_path / 'data', case.files), str(tmp_path / 'examples'))
  message = console.user_message(raised.value)  # pylint: disable=protected-access  # what the CLI would print
  assert message is not None, f'no DataContractError in the chain of {raised.value!r}'
  assert case.message in message, message


@pytest.mark.parametrize('case', FORECAST_CASES, ids=lambda case: case.name)
def test_forecast_bad_input_is_rejected_by_example_gen(case, built_pipeline, tmp_path):
  _assert_rejected_by_example_gen('forecast', case, built_pipeline, tmp_path)


@pytest.mark.parametrize('case', SENTIMENT_CASES, ids=lambda case: case.name)
def test_sentiment_bad_input_is_rejected_by_example_gen(case, built_pipeline, tmp_path):
  _assert_rejected_by_example_gen('sentiment', case, built_pipeline, tmp_path)


@pytest.mark.parametrize('case', TRANSLATE_CASES, ids=lambda case: case.name)
def test_translate_bad_input_is_rejected_by_example_gen(case, built_pipeline, tmp_path):
  _assert_rejected_by_example_gen('translate', case, built_pipeline, tmp_path)


def test_the_good_samples_pass_example_gen(built_pipeline, tmp_path):
  """The tables' good samples go through, so each case fails for its one broken thing."""
  for layout, files in GOOD_SAMPLES.items():
    directory = tmp_path / layout.replace('/', '-')
    examples = _run_example_gen(built_pipeline(layout), _write(directory / 'data', files), str(directory / 'examples'))
    assert tf.io.gfile.glob(os.path.join(examples.uri, 'Split-*', '*.gz')), layout


def test_a_timestamp_in_two_span_files_is_rejected_by_the_windowing(built_pipeline, tmp_path):
  """Span 2 repeats the last 10 hours of span 1. Each file is in time order, so the pre-flight check and
  ExampleGen (file by file) let it through; TimeSeriesWindowGen, which sees each series whole, stops the run."""
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from tfx.utils import io_utils  # pylint: disable=g-import-not-at-top
  from components import windowing  # pylint: disable=g-import-not-at-top
  data = tmp_path / 'data'
  _write(data / 'span-1', _forecast(_join(FORECAST[:61])))  # hours 0-59
  _write(data / 'span-2', _forecast(_join(FORECAST[:1] + FORECAST[51:])))  # hours 50-79
  pipeline = built_pipeline('forecast/spans', str(data))
  properties = _component(pipeline, 'FileBasedExampleGen').exec_properties
  # TFX's driver resolves span-{SPAN} to the newest span; the executor reads the spans before it as well.
  examples = _run_example_gen(pipeline, str(data), str(tmp_path / 'examples'),
                              input_config=properties['input_config'].replace('{SPAN}', '2'))

  row_columns = TextFormat.from_json(json.loads(properties['custom_config'])['text_format']).columns
  schema = standard_artifacts.Schema()
  schema.uri = str(tmp_path / 'schema')
  io_utils.write_pbtxt_file(os.path.join(schema.uri, 'schema.pbtxt'),
                            schema_pb2.Schema(feature=[schema_pb2.Feature(name=n) for n in row_columns]))
  outputs = {'windowed_examples': [standard_artifacts.Examples()], 'window_schema_out': [standard_artifacts.Schema()],
             'report': [windowing.WindowReport()]}
  for key, (artifact,) in outputs.items():
    artifact.uri = str(tmp_path / key)
  window_gen = _component(pipeline, 'TimeSeriesWindowGen')
  executor = window_gen.executor_spec.executor_class(_beam_context(pipeline))
  with pytest.raises(Exception) as raised:
    executor.Do({'examples': [examples], 'schema': [schema]}, outputs, dict(window_gen.exec_properties))
  message = console.user_message(raised.value)  # pylint: disable=protected-access
  assert message is not None and 'series (single) has two rows at 2013-01-03 02:00:00 UTC' in message, message

