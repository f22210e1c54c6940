"""Tier 1: the CLI's flags default to the one set of defaults (trainer/hyperparameters.py,
preprocessing/options.py, pipeline/gates.py), and flags reach the dataclasses by name."""
import pytest

from pipeline import cli
from pipeline import gates
from preprocessing import options
from trainer import common
from trainer import hyperparameters


@pytest.mark.parametrize('task,hyperparameter_class,options_class,gate_class,overrides', [
    ('forecast', hyperparameters.ForecastHyperparameters, options.ForecastOptions, gates.ForecastGate,
     {'residual': True}),
    ('sentiment', hyperparameters.SentimentHyperparameters, options.SentimentOptions, gates.SentimentGate, {}),
    ('translate', hyperparameters.TranslateHyperparameters, options.TranslateOptions, gates.TranslateGate,
     {'reverse_source': True}),
])
def test_flag_defaults_are_the_dataclass_defaults(task, hyperparameter_class, options_class, gate_class, overrides):
  args = cli.build_parser().parse_args(['run', task])
  assert cli._from_args(hyperparameter_class, args, **overrides) == hyperparameter_class()
  assert cli._from_args(options_class, args, **({'calendar_features': True} if task == 'forecast' else {})) \
      == options_class()
  assert cli._from_args(gate_class, args) == gate_class()


def test_flags_reach_the_dataclass():
  args = cli.build_parser().parse_args(['run', 'translate', '--epochs', '3', '--units', '32', '--min-bleu', '2.5',
                                        '--replicas', '2', '--max-target-length', '9'])
  built = cli._from_args(hyperparameters.TranslateHyperparameters, args)
  assert (built.epochs, built.units, built.replicas) == (3, 32, 2)
  assert cli._from_args(options.TranslateOptions, args).max_target_length == 9
  assert cli._from_args(gates.TranslateGate, args).min_bleu == 2.5


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
  code = ('import sys; from pipeline import cli; '
          'print(sorted(m for m in ("tensorflow", "tfx", "apache_beam") if m in sys.modules))')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
  assert result.stdout.strip() == '[]'


def test_forecast_flags_split_between_transform_and_trainer():
  args = cli.build_parser().parse_args(['run', 'forecast', '--no-calendar-features', '--epochs', '3'])
  task = cli._check_forecast(args).build_task()
  assert task.transform_config['time_feature'] == '' and 'hyperparameters' not in task.transform_config
  assert task.trainer_config['hyperparameters']['epochs'] == 3 and task.trainer_config['time_feature'] == ''
  default = cli._check_forecast(cli.build_parser().parse_args(['run', 'forecast'])).build_task()
  assert default.transform_config['time_feature'] == 'datetime'


@pytest.mark.parametrize('flag,delimiter,quoting', [('tab', '\t', False), ('\\t', '\t', False), (',', ',', True)])
def test_sentiment_delimiter_flag(tmp_path, flag, delimiter, quoting):
  separator = '\t' if delimiter == '\t' else ','
  (tmp_path / 'train.txt').write_text(f'text{separator}label\ngood{separator}1\n')
  (tmp_path / 'dev.txt').write_text(f'text{separator}label\nbad{separator}0\n')
  args = cli.build_parser().parse_args(['run', 'sentiment', '--data', str(tmp_path), '--delimiter', flag])
  text_format = cli._check_sentiment(args).build_task().text_format
  assert (text_format.delimiter, text_format.quoting) == (delimiter, quoting)


def test_run_all_hands_its_run_flags_to_every_task():
  args = cli.build_parser().parse_args(['run', 'all', '--root', '/tmp/r', '--replicas', '2', '--no-cache', '--wait',
                                        '--beam-arg=--direct_num_workers=2'])
  argvs = cli.run_all_argvs(args)
  assert [argv[1] for argv in argvs] == ['forecast', 'sentiment', 'translate']
  for argv in argvs:
    parsed = cli.build_parser().parse_args(argv)
    assert (parsed.root, parsed.replicas, parsed.no_cache, parsed.wait, parsed.beam_arg) == (
        '/tmp/r', 2, True, True, ['--direct_num_workers=2'])
    assert parsed.epochs == cli.build_parser().parse_args(['run', argv[1]]).epochs  # the task's own defaults
