"""Training hyperparameters of the three tasks: their one set of defaults.

Plain dataclasses with no TensorFlow import, so the CLI reads its flag defaults from here without slowing
`--help`. The pipeline puts `dataclasses.asdict(...)` into the Trainer's `custom_config['hyperparameters']`, and
each `run_fn` rebuilds the dataclass with `from_config`, which requires every field: a trainer never falls back
to a literal of its own. What `preprocessing_fn` reads lives in `preprocessing/options.py` (Transform's config).
"""
import dataclasses
from typing import Any, Dict, Tuple

STEPS_PER_EXECUTION = 16  # training steps per tf.function call: these models are small, per-step dispatch dominates
# A split whose transformed records take at most this many MB serialized is kept in memory after the first epoch;
# a larger one is read from its files every epoch (trainer/common.make_dataset).
CACHE_BUDGET_MB = 1024

@dataclasses.dataclass(frozen=True)
class ForecastHyperparameters:
  # Defaults from a sweep on the bundled data (bench/README.md): Huber with a small delta beat MSE and MAE
  # losses on both eval MAE and RMSE; 32 units matched 64 at half the time.
  units: int = 32
  layers: int = 1
  dropout: float = 0.0
  epochs: int = 10
  batch_size: int = 64  # per replica
  learning_rate: float = 3e-3
  loss: str = 'huber'
  huber_delta: float = 0.1  # in target z-score units (~9 µg/m³ on the PM2.5 data)
  residual: bool = True
  # From a one-core study on the full data's eval split (bench/README.md): the target's hour-to-hour changes as an
  # input and a moving average of the weights (momentum 0.99) each added about 1 point of skill over persistence.
  target_differences: bool = True
  # Warmed up over the first steps (forecast_trainer.WarmedUpAverageAdam), so short trainings keep trained weights.
  ema_momentum: float = 0.99
  replicas: int = 1
  seed: int = 0
  steps_per_execution: int = STEPS_PER_EXECUTION
  cache_budget_mb: int = CACHE_BUDGET_MB


@dataclasses.dataclass(frozen=True)
class SentimentHyperparameters:
  embedding_dim: int = 64
  units: int = 64
  layers: int = 1
  dropout: float = 0.0
  pooling: str = 'last'  # 'last' (the seed's model) or 'max' over time
  epochs: int = 5
  batch_size: int = 64
  learning_rate: float = 1e-3
  patience: int = 2
  replicas: int = 1
  seed: int = 0
  steps_per_execution: int = STEPS_PER_EXECUTION
  cache_budget_mb: int = CACHE_BUDGET_MB


@dataclasses.dataclass(frozen=True)
class TranslateHyperparameters:
  embedding_dim: int = 128
  units: int = 256
  layers: int = 1
  dropout: float = 0.0
  reverse_source: bool = True  # the encoder reads the source backwards (Sutskever et al. 2014)
  # 'none' (the seed's plain encoder-decoder), 'luong' (multiplicative score) or 'bahdanau' (additive score).
  # Bahdanau by default: on the bundled sample it took held-out BLEU from 7.3 to 13.5 (bench/README.md).
  attention: str = 'bahdanau'
  beam_size: int = 4  # serving's in-graph decoding: 1 = greedy, more = beam search
  epochs: int = 6  # keeps `make run` (all three tasks on the bundled data) well under 10 minutes
  batch_size: int = 64
  learning_rate: float = 2e-3
  patience: int = 2
  replicas: int = 1
  seed: int = 0
  steps_per_execution: int = STEPS_PER_EXECUTION
  cache_budget_mb: int = CACHE_BUDGET_MB


# ----------------------------------------------------------------------------------------------------
# What `--tune` searches (trainer/tuning.py, TFX's Tuner). Each dimension names a field above: {'name', 'values'}
# is a choice, {'name', 'min', 'max', 'log'} a float range. Ranges are centred on the defaults, which came from
# sweeps on the full data (bench/README.md).

@dataclasses.dataclass(frozen=True)
class SearchSpace:
  objective: str  # a key of Keras' History: 'val_' + the eval metric the task's gate cares about
  direction: str  # 'min' or 'max'
  dimensions: Tuple[Dict[str, Any], ...]


FORECAST_SEARCH_SPACE = SearchSpace('val_mae', 'min', (
    {'name': 'units', 'values': [16, 32, 64]},
    {'name': 'layers', 'values': [1, 2]},
    {'name': 'dropout', 'values': [0.0, 0.1, 0.2]},
    {'name': 'learning_rate', 'min': 1e-3, 'max': 1e-2, 'log': True},
    {'name': 'batch_size', 'values': [32, 64, 128]},
    {'name': 'loss', 'values': ['huber', 'mse', 'mae']},
))
SENTIMENT_SEARCH_SPACE = SearchSpace('val_auc', 'max', (
    {'name': 'units', 'values': [32, 64, 128]},
    {'name': 'layers', 'values': [1, 2]},
    {'name': 'dropout', 'values': [0.0, 0.2, 0.4]},
    {'name': 'learning_rate', 'min': 3e-4, 'max': 3e-3, 'log': True},
    {'name': 'batch_size', 'values': [32, 64]},
))
TRANSLATE_SEARCH_SPACE = SearchSpace('val_loss', 'min', (
    {'name': 'units', 'values': [128, 256]},
    {'name': 'layers', 'values': [1, 2]},
    {'name': 'dropout', 'values': [0.0, 0.1, 0.2]},
    {'name': 'learning_rate', 'min': 1e-3, 'max': 5e-3, 'log': True},
    {'name': 'batch_size', 'values': [32, 64]},
))
SEARCH_SPACES = {'forecast': FORECAST_SEARCH_SPACE, 'sentiment': SENTIMENT_SEARCH_SPACE,
                 'translate': TRANSLATE_SEARCH_SPACE}
