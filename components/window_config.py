"""How rows become forecast windows (`WindowConfig`) and the feature keys of a window example.

No TensorFlow or Beam here, so the CLI validates the window settings (reserved names, colliding feature keys,
split boundaries) in its pre-flight check, before anything heavy loads; `components/windowing.py` does the work.
"""
import dataclasses
import json
from typing import Tuple

from core.data_contract import DataContractError
from core.data_contract import parse_timestamp

# Feature names written into every window example besides the input features.
LABEL_KEY = 'label'
PERSISTENCE_KEY = 'persistence_forecast'
SERIES_KEY = 'series_id'
TARGET_TIMESTAMP_KEY = 'target_timestamp'
TARGET_MONTH_KEY = 'target_month'
TARGET_HOUR_KEY = 'target_hour'
SPLITS = ('train', 'eval', 'test')
RESERVED_KEYS = (LABEL_KEY, PERSISTENCE_KEY, SERIES_KEY, TARGET_TIMESTAMP_KEY, TARGET_MONTH_KEY, TARGET_HOUR_KEY)


def feature_key(column: str) -> str:
  """Column name -> feature key usable as a TF signature argument (`pm2.5` -> `pm2_5`)."""
  key = ''.join(c if c.isalnum() or c == '_' else '_' for c in column)
  return key if key[:1].isalpha() else 'f_' + key


@dataclasses.dataclass(frozen=True)
class WindowConfig:
  """How rows become windows. Column names are the CSV header names."""
  time_column: str
  target: str
  numeric_features: Tuple[str, ...]  # includes the target: its history is always a model input
  categorical_features: Tuple[str, ...] = ()
  series_column: str = ''
  window: int = 24
  horizon: int = 1
  step_seconds: int = 0  # 0: infer the most common spacing per series
  eval_start: str = ''  # ISO timestamps; empty: use the fractions of the overall time range
  test_start: str = ''
  eval_fraction: float = 0.1
  test_fraction: float = 0.1
  gap_policy: str = 'drop'  # or 'fail'

  def __post_init__(self):
    if self.window < 1 or self.horizon < 1:
      raise DataContractError(f'window ({self.window}) and horizon ({self.horizon}) must be >= 1')
    if self.gap_policy not in ('drop', 'fail'):
      raise DataContractError(f"gap_policy must be 'drop' or 'fail', not {self.gap_policy!r}")
    if self.target not in self.numeric_features:
      raise DataContractError(f'the target {self.target!r} must be one of the numeric features')
    if not 0 <= self.eval_fraction < 1 or not 0 <= self.test_fraction < 1 or (
        self.eval_fraction + self.test_fraction >= 1):
      raise DataContractError('eval_fraction and test_fraction must be in [0, 1) and sum to < 1')
    keys = [feature_key(c) for c in (self.time_column, *self.input_features)]
    if len(set(keys)) != len(keys):
      raise DataContractError(f'feature names collide after sanitising (non-alphanumerics become _): {keys}')
    reserved = sorted(set(keys) & set(RESERVED_KEYS))
    if reserved:
      raise DataContractError(f'column name(s) {reserved} are reserved for window fields; rename them')
    if (self.eval_fraction == 0 and not self.eval_start) or (self.test_fraction == 0 and not self.test_start):
      raise DataContractError('eval and test splits need a start time or a fraction > 0')
    for name in ('eval_start', 'test_start'):
      if getattr(self, name):
        parse_timestamp(getattr(self, name))  # fail now, not inside the pipeline

  @property
  def input_features(self) -> Tuple[str, ...]:
    return tuple(self.numeric_features) + tuple(self.categorical_features)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'WindowConfig':
    fields = json.loads(text)
    for name in ('numeric_features', 'categorical_features'):
      fields[name] = tuple(fields[name])
    return cls(**fields)
