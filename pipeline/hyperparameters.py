"""Hyperparameters and blessing gates of the three tasks: their one set of defaults.

Plain dataclasses with no TensorFlow/TFX imports, so the CLI reads its flag defaults from here without slowing
`--help`; `pipeline.tasks` turns them into task specs.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class ForecastHyperparameters:
  # Defaults from a sweep on the bundled data (bench/README.md): Huber with a small delta beat MSE and MAE
  # losses on both eval MAE and RMSE; 32 units matched 64 at half the time.
  units: int = 32
  layers: int = 1
  dropout: float = 0.0
  epochs: int = 10
  batch_size: int = 64
  learning_rate: float = 3e-3
  loss: str = 'huber'
  huber_delta: float = 0.1  # in target z-score units (~9 µg/m³ on the PM2.5 data)
  residual: bool = True
  calendar_features: bool = True  # time of day and of year from the rows' timestamps
  replicas: int = 1
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class ForecastGate:
  """Blessing rule on the overall eval slice."""
  min_skill: float = 0.0  # skill = 1 - MAE / persistence MAE must be above this
  max_mae_increase: float = 0.0  # vs the latest blessed model, in target units


@dataclasses.dataclass(frozen=True)
class SentimentHyperparameters:
  vocab_size: int = 10_000  # most frequent tokens kept; the rest share the OOV bucket(s)
  max_length: int = 48  # tokens; longer sentences are truncated
  num_oov_buckets: int = 1
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


@dataclasses.dataclass(frozen=True)
class SentimentGate:
  min_auc: float = 0.5  # overall eval AUC must be above this
  max_auc_drop: float = 0.0  # vs the latest blessed model


@dataclasses.dataclass(frozen=True)
class TranslateHyperparameters:
  source_vocab_size: int = 8_000  # most frequent source tokens kept; the rest share the OOV bucket(s)
  target_vocab_size: int = 10_000
  max_source_length: int = 16  # tokens; longer sentences are truncated (targets keep their [END])
  max_target_length: int = 16
  num_oov_buckets: int = 1
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


@dataclasses.dataclass(frozen=True)
class TranslateGate:
  min_bleu: float = 1.0  # overall eval corpus BLEU (0-100) must be above this
  max_bleu_drop: float = 0.0  # vs the latest blessed model, in BLEU points
