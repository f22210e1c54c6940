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
