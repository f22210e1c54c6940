"""Training hyperparameters of the three tasks: their one set of defaults.

Plain dataclasses with no TensorFlow import, so the CLI reads its flag defaults from here without slowing
`--help`. The pipeline puts `dataclasses.asdict(...)` into the Trainer's `custom_config['hyperparameters']`, and
each `run_fn` rebuilds the dataclass with `from_config`, which requires every field: a trainer never falls back
to a literal of its own. What `preprocessing_fn` reads lives in `preprocessing/options.py` (Transform's config).
"""
import dataclasses

STEPS_PER_EXECUTION = 16  # training steps per tf.function call: these models are small, per-step dispatch dominates

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
  replicas: int = 1
  seed: int = 0
  steps_per_execution: int = STEPS_PER_EXECUTION


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


@dataclasses.dataclass(frozen=True)
class TranslateHyperparameters:
  embedding_dim: int = 128
  units: int = 256
  layers: int = 1
  dropout: float = 0.0
  reverse_source: bool = True  # the encoder reads the source backwards (Sutskever et al. 2014)
  epochs: int = 6  # keeps `make run` (all three tasks on the bundled data) well under 10 minutes
  batch_size: int = 64
  learning_rate: float = 2e-3
  patience: int = 2
  replicas: int = 1
  seed: int = 0
  steps_per_execution: int = STEPS_PER_EXECUTION
