"""`tfx-lstm predict forecast`: the last window(s) of a CSV through a pushed model's raw-window signature."""
import collections
import math
import os
from typing import Iterator

import numpy as np
import tensorflow as tf

from core.data_contract import DataContractError
from core.data_contract import TextFormat
from core.data_contract import format_timestamp
from core.data_contract import parse_number
from core.data_contract import parse_timestamp
from core.data_contract import read_rows
from components.windowing import infer_step
from trainer.common import read_model_metadata


def forecast_csv(model_dir: str, csv_path: str, last: int = 1) -> Iterator[str]:
  """Yields one line per forecast: series, last input time, forecast time and value in original units."""
  meta = read_model_metadata(model_dir)
  columns, window, horizon = meta['columns'], meta['window'], meta['horizon']
  categorical = set(meta['categorical_features'])
  series_rows = collections.defaultdict(list)
  if not os.path.isfile(csv_path):
    raise DataContractError(f'{csv_path} does not exist')
  needed = [meta['time_column'], *columns.values()] + ([meta['series_column']] if meta['series_column'] else [])
  # The data contract's reader: the same CSV rules (quoting, padded names, line numbers) as training.
  for line_number, row in read_rows(csv_path, TextFormat(columns=tuple(dict.fromkeys(needed)), delimiter=',',
                                                          quoting=True, non_empty=(meta['time_column'],))):
    series = row[meta['series_column']] if meta['series_column'] else ''
    try:
      stamp = parse_timestamp(row[meta['time_column']])
    except DataContractError as e:
      raise DataContractError(f'{os.path.basename(csv_path)} line {line_number}: {e}') from None
    series_rows[series].append((stamp, line_number, row))

  batch, described = collections.defaultdict(list), []
  for series, rows in sorted(series_rows.items()):
    rows.sort(key=lambda r: r[0])
    if len(rows) < window + last - 1:
      raise DataContractError(f'{csv_path}: series {series or "(single)"} has {len(rows)} rows; '
                              f'{window + last - 1} are needed for {last} window(s) of {window}')
    step = meta['step_seconds'] or infer_step([r[0] for r in rows])
    for end in range(len(rows) - last + 1, len(rows) + 1):
      chunk = rows[end - window:end]
      for a, b in zip(chunk, chunk[1:]):
        if b[0] - a[0] != step:
          raise DataContractError(f'{csv_path}: gap between lines {a[1]} and {b[1]} inside the window')
      for key, column in columns.items():
        if key in categorical:
          batch[key].append([r[2][column] for r in chunk])
        else:
          try:
            values = [parse_number(r[2][column]) for r in chunk]
          except DataContractError as e:
            raise DataContractError(f'{csv_path} column {column!r}: {e}') from None
          bad = [r[1] for r, v in zip(chunk, values) if math.isnan(v)]
          if bad:
            raise DataContractError(f'{csv_path} line {bad[0]}: missing {column!r} inside the window')
          batch[key].append(values)
      if meta['time_feature']:
        batch[meta['time_feature']].append([r[0] for r in chunk])
      described.append((series, chunk[-1][0], chunk[-1][0] + horizon * step))

  signature = tf.saved_model.load(model_dir).signatures[meta['window_signature']]
  dtypes = {k: tf.string if k in categorical else tf.float32 for k in batch}
  if meta['time_feature']:
    dtypes[meta['time_feature']] = tf.int64
  inputs = {k: tf.constant(np.array(v), dtype=dtypes[k]) for k, v in batch.items()}
  forecasts = signature(**inputs)['forecast'].numpy()
  for (series, last_time, target_time), value in zip(described, forecasts):
    prefix = f'{series}  ' if series else ''
    yield (f'{prefix}window ending {format_timestamp(last_time)} -> {meta["target"]} at '
           f'{format_timestamp(target_time)}: {value:.2f}')
