"""The Trainer's per-epoch numbers, read back from the TensorBoard logs it wrote under its ModelRun artifact
(`trainer.common.training_callbacks`) with TensorBoard's own event reader."""
import os
from typing import Dict, List

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
