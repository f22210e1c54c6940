"""The Trainer's per-epoch numbers, read back from the TensorBoard logs it wrote under its ModelRun artifact
(`trainer.common.training_callbacks`) with TensorBoard's own event reader."""
import json
import os
from typing import Dict, List, Optional

import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

EPOCH_PREFIX = 'epoch_'
RUNS = ('train', 'validation')  # Keras' TensorBoard callback writes these two runs


def read_history(model_run_uri: str) -> Dict[str, Dict[str, List[float]]]:
  """Run ('train' or 'validation') -> metric (loss, auc, ...) -> value per epoch, in epoch order."""
  history = {}
  for run in RUNS:
    directory = os.path.join(model_run_uri, run)
    if not tf.io.gfile.isdir(directory):
      continue
    accumulator = event_accumulator.EventAccumulator(directory, size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    metrics = {}
    for tag in accumulator.Tags().get(event_accumulator.TENSORS, []):
      if not tag.startswith(EPOCH_PREFIX) or tag == EPOCH_PREFIX + 'learning_rate':
        continue
      events = sorted(accumulator.Tensors(tag), key=lambda e: e.step)
      metrics[tag[len(EPOCH_PREFIX):]] = [float(tf.make_ndarray(e.tensor_proto)) for e in events]
    history[run] = metrics
  return history


def warm_start(record) -> Optional[dict]:
  """What the Trainer restored (trainer.common.warm_start's record beside its TensorBoard logs), or None when it
  did not warm start or did not run."""
  from trainer.common import WARM_START_RECORD  # pylint: disable=g-import-not-at-top
  model_run = record.node_output('Trainer', 'model_run')
  path = os.path.join(model_run.uri, WARM_START_RECORD) if model_run is not None else ''
  if not path or not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def warm_start_in_words(warm: dict) -> str:
  if not warm['restored']:
    return f"skipped, trained from scratch: {warm['reason']}"
  base = warm['base_model'].rstrip('/')
  model = os.path.basename(os.path.dirname(base)) if base.endswith('Format-Serving') else base
  carried = ', '.join(f"{rows:,} of {warm['vocabulary_sizes'].get(name, 0):,} {name} tokens"
                      for name, rows in sorted(warm.get('vocabulary_rows_carried', {}).items()))
  return f'from the latest blessed model ({model}: {base})' + (f'; carried over {carried}' if carried else '')
