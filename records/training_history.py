"""The Trainer's per-epoch numbers, read back from the TensorBoard logs it wrote under its ModelRun artifact
(`trainer.common.training_callbacks`) with TensorBoard's own event reader."""
import json
import os
from typing import Any, Dict, List, Optional

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


def _json_output(record, node: str, key: str, name: str) -> Optional[Any]:
  """The JSON file `name` in the run's `node` output `key`, or None when the node did not run or wrote none."""
  artifact = record.node_output(node, key)
  path = os.path.join(artifact.uri, name) if artifact is not None else ''
  if not path or not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def warm_start(record) -> Optional[dict]:
  """What the Trainer restored (trainer.common.warm_start's record beside its TensorBoard logs), or None when it
  did not warm start or did not run."""
  from trainer.common import WARM_START_RECORD  # pylint: disable=g-import-not-at-top
  return _json_output(record, 'Trainer', 'model_run', WARM_START_RECORD)


def datasets(record) -> Optional[dict]:
  """How the Trainer read each split (trainer.common.make_dataset's plans), or None when it did not run."""
  from trainer.common import DATASETS_FILE  # pylint: disable=g-import-not-at-top
  return _json_output(record, 'Trainer', 'model_run', DATASETS_FILE)


def datasets_in_words(plans: dict) -> str:
  """'train 12,683 examples (4.1 MB in 8 files) in memory; eval ...': what a split cost and where it was read."""
  parts = []
  for split in ('train', 'eval'):
    plan = plans.get(split)
    if plan:
      where = ('kept in memory' if plan['cached'] else
               f"read from the files every epoch (over the {plan['cache_budget_bytes'] / 2**20:,.0f} MB budget)")
      sharding = {'file': ', sharded by file', 'data': ', sharded by data'}.get(plan['sharding'], '')
      parts.append(f"{split} {plan['examples']:,} examples ({plan['serialized_bytes'] / 2**20:,.1f} MB in "
                   f"{plan['files']} file(s)) {where}{sharding}")
  return '; '.join(parts)


def warm_start_in_words(warm: dict) -> str:
  if not warm['restored']:
    return f"skipped, trained from scratch: {warm['reason']}"
  base = warm['base_model'].rstrip('/')
  model = os.path.basename(os.path.dirname(base)) if base.endswith('Format-Serving') else base
  carried = ', '.join(f"{rows:,} of {warm['vocabulary_sizes'].get(name, 0):,} {name} tokens"
                      for name, rows in sorted(warm.get('vocabulary_rows_carried', {}).items()))
  return f'from the latest blessed model ({model}: {base})' + (f'; carried over {carried}' if carried else '')


def trained_with(record) -> Optional[dict]:
  """The hyperparameters the Trainer used (trainer.common.HYPERPARAMETERS_FILE): {'hyperparameters': {...},
  'tuned': [names the search set]}, or None when the Trainer did not run (or predates the file)."""
  from trainer.common import HYPERPARAMETERS_FILE  # pylint: disable=g-import-not-at-top
  return _json_output(record, 'Trainer', 'model_run', HYPERPARAMETERS_FILE)


TUNER_RESULTS_FILE = 'tuner_results.json'  # TFX's Tuner writes it: finished trials, best first


def tuning_trials(record) -> Optional[List[dict]]:
  """The search's finished trials, best first: [{'trial_id', 'score', <hyperparameter>: value, ...}], or None when
  the run had no Tuner (or it did not finish)."""
  return _json_output(record, 'Tuner', 'tuner_results', TUNER_RESULTS_FILE)


def trial_values_in_words(trial: dict) -> str:
  return ' '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}'
                  for k, v in trial.items() if k not in ('trial_id', 'score'))


def pretrained_embeddings(record) -> Optional[dict]:
  """What --embeddings initialised (trainer.pretrained_embeddings' report beside the TensorBoard logs), or None."""
  from trainer.pretrained_embeddings import REPORT_FILE  # pylint: disable=g-import-not-at-top
  return _json_output(record, 'Trainer', 'model_run', REPORT_FILE)


def pretrained_embeddings_in_words(report: dict, warm: Optional[dict]) -> str:
  """`report` of pretrained_embeddings(); `warm` of warm_start() for the same run. The Trainer sets the vectors
  first; a warm start then gives the tokens the served model knew its rows."""
  frozen = f", frozen for the first {report['freeze_epochs']} epoch(s)" if report.get('freeze_epochs') else ''
  then = '; the warm start then replaced the rows of the tokens the served model knew' \
      if warm and warm['restored'] else ''
  return (f"{report['found']:,} of {report['vocabulary']:,} {report.get('vocabulary_name', '')} tokens "
          f"({report['coverage']:.0%}) found in {report['file']}{frozen}{then}")
