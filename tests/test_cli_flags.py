"""Tier 1: the CLI's flags default to the one set of defaults (trainer/hyperparameters.py,
preprocessing/options.py, pipeline/gates.py), and flags reach the dataclasses by name."""
import pytest

from cli import main as cli
from cli import run as run_command
from core import data_contract
from pipeline import preflight
from pipeline import gates
from preprocessing import options
from trainer import common
from trainer import hyperparameters


@pytest.mark.parametrize('task,hyperparameter_class,options_class,gate_class,overrides', [
    ('forecast', hyperparameters.ForecastHyperparameters, options.ForecastOptions, gates.ForecastGate,
     {'residual': True, 'target_differences': True}),
    ('sentiment', hyperparameters.SentimentHyperparameters, options.SentimentOptions, gates.SentimentGate, {}),
    ('translate', hyperparameters.TranslateHyperparameters, options.TranslateOptions, gates.TranslateGate,
     {'reverse_source': True}),
])
def test_flag_defaults_are_the_dataclass_defaults(task, hyperparameter_class, options_class, gate_class, overrides):
  args = cli.build_parser().parse_args(['run', task])
  if task != 'forecast':
    assert preflight.pretrained_embeddings(args, hyperparameter_class()) is None  # sizes the embedding: no --embeddings
  assert preflight.from_settings(hyperparameter_class, args, **overrides) == hyperparameter_class()
  assert preflight.from_settings(options_class, args, **({'calendar_features': True} if task == 'forecast' else {})) \
      == options_class()
  assert preflight.from_settings(gate_class, args) == gate_class()


def test_flags_reach_the_dataclass():
  args = cli.build_parser().parse_args(['run', 'translate', '--epochs', '3', '--units', '32', '--min-bleu', '2.5',
                                        '--replicas', '2', '--max-target-length', '9', '--attention', 'bahdanau',
                                        '--beam-size', '3', '--min-word-count', '3'])
  built = preflight.from_settings(hyperparameters.TranslateHyperparameters, args)
  assert (built.epochs, built.units, built.replicas, built.attention, built.beam_size) == (3, 32, 2, 'bahdanau', 3)
  assert preflight.from_settings(options.TranslateOptions, args).max_target_length == 9
  assert preflight.from_settings(options.TranslateOptions, args).min_word_count == 3
  assert preflight.from_settings(gates.TranslateGate, args).min_bleu == 2.5


def test_run_flags_beam_args_and_wait():
  args = cli.build_parser().parse_args(['run', 'forecast', '--wait', '--beam-arg=--direct_num_workers=2',
                                        '--beam-arg=--direct_running_mode=multi_processing'])
  assert args.wait and args.beam_arg == ['--direct_num_workers=2', '--direct_running_mode=multi_processing']


def test_trainer_config_must_name_every_hyperparameter():
  values = {'units': 8}
  with pytest.raises(ValueError, match=r"missing \[.*'epochs'.*\] and has unknown \[\]"):
    common.from_config(hyperparameters.ForecastHyperparameters, values)
  with pytest.raises(ValueError, match=r"unknown \['unit'\]"):
    common.from_config(hyperparameters.SentimentHyperparameters,
                                {**vars(hyperparameters.SentimentHyperparameters()), 'unit': 3})


def test_help_is_quick_to_import():
  """`tfx-lstm --help` must not import TensorFlow or TFX (seconds of start-up)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ('import sys; from cli import main as cli; '
          'print(sorted(m for m in ("tensorflow", "tfx", "apache_beam") if m in sys.modules))')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert result.stdout.strip() == '[]'


def test_forecast_flags_split_between_transform_and_trainer():
  args = cli.build_parser().parse_args(['run', 'forecast', '--no-calendar-features', '--epochs', '3'])
  task = preflight.check_forecast(args).build_task()
  assert task.transform_config['time_feature'] == '' and 'hyperparameters' not in task.transform_config
  assert task.trainer_config['hyperparameters']['epochs'] == 3 and task.trainer_config['time_feature'] == ''
  default = preflight.check_forecast(cli.build_parser().parse_args(['run', 'forecast'])).build_task()
  assert default.transform_config['time_feature'] == 'datetime'


@pytest.mark.parametrize('flag,delimiter,quoting', [('tab', '\t', False), ('\\t', '\t', False), (',', ',', True)])
def test_sentiment_delimiter_flag(tmp_path, flag, delimiter, quoting):
  separator = '\t' if delimiter == '\t' else ','
  (tmp_path / 'train.txt').write_text(f'text{separator}label\ngood{separator}1\n')
  (tmp_path / 'dev.txt').write_text(f'text{separator}label\nbad{separator}0\n')
  args = cli.build_parser().parse_args(['run', 'sentiment', '--data', str(tmp_path), '--delimiter', flag])
  text_format = preflight.check_sentiment(args).build_task().text_format
  assert (text_format.delimiter, text_format.quoting) == (delimiter, quoting)


def test_run_all_hands_its_run_flags_to_every_task():
  args = cli.build_parser().parse_args(['run', 'all', '--root', '/tmp/r', '--replicas', '2', '--no-cache', '--wait',
                                        '--beam-arg=--direct_num_workers=2'])
  argvs = run_command.run_all_argvs(args)
  assert [argv[1] for argv in argvs] == ['forecast', 'sentiment', 'translate']
  for argv in argvs:
    parsed = cli.build_parser().parse_args(argv)
    assert (parsed.root, parsed.replicas, parsed.no_cache, parsed.wait, parsed.beam_arg) == (
        '/tmp/r', 2, True, True, ['--direct_num_workers=2'])
    assert parsed.epochs == cli.build_parser().parse_args(['run', argv[1]]).epochs  # the task's own defaults


def _vectors(tmp_path, lines):
  path = tmp_path / 'vectors.txt'
  path.write_text(''.join(line + '\n' for line in lines), encoding='utf-8')
  return str(path)


def test_embeddings_file_sizes_the_embedding_and_goes_to_the_trainer(tmp_path):
  path = _vectors(tmp_path, ['the 0.1 0.2 0.3', 'film 0.4 0.5 0.6'])
  args = cli.build_parser().parse_args(['run', 'sentiment', '--embeddings', path, '--freeze-embedding-epochs', '2'])
  config = preflight.pretrained_embeddings(args, hyperparameters.SentimentHyperparameters())
  assert args.embedding_dim == 3 and config['dimension'] == 3 and config['freeze_epochs'] == 2
  assert config['format'] == 'glove' and config['fingerprint'].startswith('sha256:')
  args = cli.build_parser().parse_args(['run', 'translate', '--embeddings', path, '--embedding-dim', '8'])
  with pytest.raises(data_contract.DataContractError, match='3'):
    preflight.pretrained_embeddings(args, hyperparameters.TranslateHyperparameters())


@pytest.mark.parametrize('argv,message', [
    (['--embeddings', 'VECTORS', '--freeze-embedding-epochs', '1'], 'vectors.txt line 2: expected a word and 3 numbers, found 3 fields'),
    (['--freeze-embedding-epochs', '1'], '--freeze-embedding-epochs needs --embeddings FILE'),
    (['--embeddings', 'VECTORS', '--freeze-embedding-epochs', '5', '--epochs', '5'], 'leaves none of the 5 epochs'),
    (['--embedding-dim', '0'], '--embedding-dim must be at least 1'),
    (['--embeddings', 'missing.txt'], 'missing.txt'),
])
def test_bad_embeddings_flags_stop_the_run_before_anything_runs(tmp_path, capsys, argv, message):
  path = _vectors(tmp_path, ['the 0.1 0.2 0.3', 'film 0.4 0.5'])
  argv = [path if a == 'VECTORS' else str(tmp_path / a) if a == 'missing.txt' else a for a in argv]
  root = tmp_path / 'root'
  assert cli.main(['run', 'sentiment', '--root', str(root), *argv]) == 2
  assert message in capsys.readouterr().err
  # Only the task's lock file: no metadata, pipeline output, log or report.
  assert sorted(str(p.relative_to(root)) for p in root.rglob('*')) == ['locks', 'locks/sentiment.lock']


@pytest.mark.parametrize('flag,value', [('--trials', '0'), ('--trials', 'two'), ('--tune-minutes', '-1'),
                                        ('--tune-minutes', 'nan'), ('--beam-size', '0'), ('--ema-momentum', '1'),
                                        ('--ema-momentum', '-0.5'), ('--min-word-count', '0')])
def test_bad_tuning_and_decoding_numbers_are_usage_errors(capsys, flag, value):
  task = 'translate' if flag in ('--beam-size', '--min-word-count') else 'forecast'
  with pytest.raises(SystemExit) as exit_info:
    cli.build_parser().parse_args(['run', task, '--tune', flag, value])
  assert exit_info.value.code == 2 and flag in capsys.readouterr().err


def test_tune_flags_reach_the_task_spec():
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  args = cli.build_parser().parse_args(['run', 'sentiment', '--tune', '--trials', '4', '--tune-minutes', '2.5'])
  task = preflight.CHECKS['sentiment'](args).build_task()
  assert task.tuning == tasks.Tuning(trials=4, minutes=2.5)
  config = tasks.tuner_config(task)
  assert config['tuning']['trials'] == 4 and config['tuning']['objective'] == 'val_auc'
  assert {d['name'] for d in config['tuning']['search_space']} <= set(config['hyperparameters'])
  assert preflight.CHECKS['sentiment'](cli.build_parser().parse_args(['run', 'sentiment'])).build_task().tuning is None
