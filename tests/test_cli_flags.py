"""Tier 1: the CLI's flags default to the one set of hyperparameters and gates (pipeline/hyperparameters.py),
and flags reach the dataclasses by name."""
import pytest

from pipeline import cli
from pipeline import hyperparameters


@pytest.mark.parametrize('task,hyperparameter_class,gate_class,overrides', [
    ('forecast', hyperparameters.ForecastHyperparameters, hyperparameters.ForecastGate, {'residual': True}),
    ('sentiment', hyperparameters.SentimentHyperparameters, hyperparameters.SentimentGate, {}),
    ('translate', hyperparameters.TranslateHyperparameters, hyperparameters.TranslateGate, {'reverse_source': True}),
])
def test_flag_defaults_are_the_dataclass_defaults(task, hyperparameter_class, gate_class, overrides):
  args = cli.build_parser().parse_args(['run', task])
  assert cli._from_args(hyperparameter_class, args, **overrides) == hyperparameter_class()
  assert cli._from_args(gate_class, args) == gate_class()


def test_flags_reach_the_dataclass():
  args = cli.build_parser().parse_args(['run', 'translate', '--epochs', '3', '--units', '32', '--min-bleu', '2.5',
                                        '--replicas', '2'])
  built = cli._from_args(hyperparameters.TranslateHyperparameters, args)
  assert (built.epochs, built.units, built.replicas) == (3, 32, 2)
  assert cli._from_args(hyperparameters.TranslateGate, args).min_bleu == 2.5
