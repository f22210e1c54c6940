"""What each task's `preprocessing_fn` reads besides its column names: their one set of defaults.

Plain dataclasses with no TensorFlow import (the CLI reads its flag defaults from here). Only these values and
the column names go into Transform's `custom_config`, so a change to a training hyperparameter never re-runs
Transform. Only dataclasses here: the code fingerprint leaves this file out, since the values in use (and any field
renamed or added) reach Transform's config anyway.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class ForecastOptions:
  calendar_features: bool = True  # time of day and of year from the rows' timestamps
  num_oov_buckets: int = 1  # categorical covariates


@dataclasses.dataclass(frozen=True)
class SentimentOptions:
  vocab_size: int = 10_000  # most frequent tokens kept; the rest share the OOV bucket(s)
  max_length: int = 48  # tokens; longer sentences are truncated
  num_oov_buckets: int = 1


@dataclasses.dataclass(frozen=True)
class TranslateOptions:
  source_vocab_size: int = 8_000  # most frequent source tokens kept; the rest share the OOV bucket(s)
  target_vocab_size: int = 10_000
  # Tokens seen fewer times in the train split share the OOV id(s): a word seen once cannot be learned, and each
  # target word widens the output layer, most of training's cost (bundled sample: 8,258 -> 3,843 target ids).
  min_word_count: int = 2
  max_source_length: int = 16  # tokens; longer sentences are truncated (targets keep their [END])
  max_target_length: int = 16
  num_oov_buckets: int = 1
