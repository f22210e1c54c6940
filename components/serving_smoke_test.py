"""ServingSmokeTest: the in-process stand-in for InfraValidator (docs/design.md §9).

This machine has no Docker or TF Serving, so this component loads the candidate SavedModel in-process,
calls every serving signature on real examples and blesses the model for Pusher only when each answers
with finite values of the right batch size, and every raw-input signature agrees with `serving_default`.
A raw-input signature is one whose argument names are feature keys of the examples; its inputs are
built from those same examples, so the comparison is like for like.

Every path (the model, the examples, the blessing) is read and written through `tf.io.gfile`, so the artifacts may
live on a shared filesystem (`gs://`, `s3://`, ...); tests/test_remote_serving.py runs it on TensorFlow's `ram://`.
"""
import os
from typing import Dict, List

import numpy as np
import tensorflow as tf
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

BLESSED_FILE = 'INFRA_BLESSED'
NOT_BLESSED_FILE = 'INFRA_NOT_BLESSED'


def _feature_values(example: tf.train.Example, key: str) -> list:
  feature = example.features.feature[key]
  return list(getattr(feature, feature.WhichOneof('kind')).value)


def _inputs_from_examples(examples: List[tf.train.Example], spec: Dict[str, tf.TensorSpec]) -> Dict[str, tf.Tensor]:
  inputs = {}
  for name, tensor_spec in spec.items():
    rows = [_feature_values(e, name) for e in examples]
    if tensor_spec.shape.rank == 1:
      rows = [row[0] for row in rows]
    inputs[name] = tf.constant(np.array(rows), dtype=tensor_spec.dtype)
  return inputs


def check_signatures(model_dir: str, serialized: List[bytes], rtol: float = 1e-4) -> List[str]:
  """Calls every signature of the SavedModel on the examples; returns the problems found (none: servable)."""
  loaded = tf.saved_model.load(model_dir)
  problems = []
  if 'serving_default' not in loaded.signatures:
    return ['no serving_default signature']
  examples = [tf.train.Example.FromString(s) for s in serialized]
  batch = len(serialized)
  reference = {k: v.numpy() for k, v in loaded.signatures['serving_default'](
      examples=tf.constant(serialized)).items()}
  for name, signature in loaded.signatures.items():
    _, spec = signature.structured_input_signature
    if name == 'serving_default':
      outputs = reference
    elif all(key in examples[0].features.feature for key in spec):
      outputs = {k: v.numpy() for k, v in signature(**_inputs_from_examples(examples, spec)).items()}
      for key in set(outputs) & set(reference):
        if outputs[key].dtype.kind == 'f' and not np.allclose(outputs[key], reference[key], rtol=rtol, atol=1e-5):
          problems.append(f'{name}[{key}] disagrees with serving_default[{key}]')
        elif outputs[key].dtype.kind != 'f' and not np.array_equal(outputs[key], reference[key]):
          problems.append(f'{name}[{key}] disagrees with serving_default[{key}]')
    elif list(spec) == ['examples']:
      outputs = {k: v.numpy() for k, v in signature(examples=tf.constant(serialized)).items()}
    else:
      problems.append(f'signature {name} takes {sorted(spec)}, which the examples do not have')
      continue
    for key, value in outputs.items():
      if value.shape[:1] != (batch,):
        problems.append(f'{name}[{key}] has shape {value.shape}, expected a batch of {batch}')
      elif value.dtype.kind == 'f' and not np.all(np.isfinite(value)):
        problems.append(f'{name}[{key}] has non-finite values')
  return problems


# TFX will run this function as the executor of the ServingSmokeTest component.
@component
def ServingSmokeTest(  # pylint: disable=invalid-name
    model: InputArtifact[standard_artifacts.Model],
    examples: InputArtifact[standard_artifacts.Examples],
    infra_blessing: OutputArtifact[standard_artifacts.InfraBlessing],
    split: Parameter[str] = 'eval',
    num_examples: Parameter[int] = 32,
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
) -> None:
  """Loads the candidate model and calls each signature on real examples; blesses it if all answer well.

  Args:
    model: the Trainer's model (its Format-Serving SavedModel is loaded).
    examples: examples in the format `serving_default` takes (raw, untransformed).
    infra_blessing: output; custom property `blessed` = 1 or 0, `reason` says why not.
    split: which split of `examples` to draw from.
    num_examples: how many examples to call the signatures with.
  """
  pattern = os.path.join(artifact_utils.get_split_uri([examples], split), '*')
  files = sorted(tf.io.gfile.glob(pattern))
  serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type='GZIP').take(num_examples)]
  model_dir = os.path.join(model.uri, 'Format-Serving')
  try:
    problems = check_signatures(model_dir, serialized) if serialized else [f'no examples in {pattern}']
  except Exception as e:  # pylint: disable=broad-except  # any failure to load or call means "not servable"
    problems = [f'{type(e).__name__}: {e}'.splitlines()[0]]
  blessed = not problems
  infra_blessing.set_int_custom_property('blessed', int(blessed))
  infra_blessing.set_string_custom_property('reason', '; '.join(problems)[:1000])
  with tf.io.gfile.GFile(os.path.join(infra_blessing.uri, BLESSED_FILE if blessed else NOT_BLESSED_FILE), 'w') as f:
    f.write('\n'.join(problems))
