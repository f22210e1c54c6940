"""Blessing gates of the three tasks (Evaluator thresholds on the overall eval slice): their one set of defaults.

Plain dataclasses with no TensorFlow import, so the CLI reads its flag defaults from here.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class ForecastGate:
  min_skill: float = 0.0  # skill = 1 - MAE / persistence MAE must be above this
  max_mae_increase: float = 0.0  # vs the latest blessed model, in target units


@dataclasses.dataclass(frozen=True)
class SentimentGate:
  min_auc: float = 0.5  # overall eval AUC must be above this
  max_auc_drop: float = 0.0  # vs the latest blessed model


@dataclasses.dataclass(frozen=True)
class TranslateGate:
  min_bleu: float = 1.0  # overall eval corpus BLEU (0-100) must be above this
  max_bleu_drop: float = 0.0  # vs the latest blessed model, in BLEU points


@dataclasses.dataclass(frozen=True)
class DataGate:
  """The data check's thresholds (`components/data_check.py`), for drift against the previous span and skew
  against the served model's training data alike."""
  max_categorical_drift: float = 0.2  # L-infinity distance of a string feature's value frequencies
  max_numeric_drift: float = 0.2  # approximate Jensen-Shannon divergence of a numeric feature's histogram


# A series changes with the seasons: a span of summer against the spring before it moves every weather
# feature, so its numeric threshold is looser than the text tasks'.
FORECAST_DATA_GATE = DataGate(max_categorical_drift=0.3, max_numeric_drift=0.4)
TEXT_DATA_GATE = DataGate()
