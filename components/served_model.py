"""The Kubeflow profile's answer to resolver nodes: the served model, read from the serving directory.

Open-source Kubeflow Pipelines v2 runs container and importer tasks only, so the pipeline's Resolver nodes (the
Evaluator's latest-blessed baseline, the Trainer's warm start, the data check's references; they read ML Metadata
lineage) cannot run there, and Vertex AI cannot run our custom resolver strategies either. The serving directory
holds the same answer on every platform: each blessed model that passed its smoke test was pushed to
`<serving_root>/<version>/`, and the newest version is the one served (after a rollback too, since a rollback
re-publishes as the newest). `LatestServedModel` copies that version into a Model artifact, and
`BaselineAwareEvaluator` treats "nothing served yet" as "no baseline", as the resolver's empty answer does locally.

The Pusher publishes the Trainer's warm-start state with each version (`<version>/warm_start/`), so the copied
Model also warm-starts the next Trainer.
"""
import os
import re
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import path_utils

from components.atomic_pusher import version_directories
from core.layout import COMPLETE_MARKER
from core.layout import WARM_START_DIR
from core.layout import version_path
from core.names import SERVED_FROM_PROPERTY
from core.names import SERVED_VERSION_PROPERTY


def copy_served_model(serving_root: str, model_uri: str) -> str:
  """Copies the newest version under `serving_root` into the Model layout under `model_uri` (the SavedModel to
  `Format-Serving/`, its warm-start state beside it); returns the version, or '' when nothing is served."""
  versions = version_directories(serving_root)
  if not versions:
    return ''
  version = versions[-1]
  source = version_path(serving_root, version).rstrip('/')
  published_state = os.path.join(source, WARM_START_DIR)
  if fileio.isdir(published_state):
    io_utils.copy_dir(published_state, os.path.join(model_uri, WARM_START_DIR))
  # The SavedModel alone: the warm-start state went beside it above, and a remote version's marker is not a
  # model file.
  not_model = [rf'^{re.escape(path)}(/|$)' for path in (published_state, os.path.join(source, COMPLETE_MARKER))]
  io_utils.copy_dir(source, path_utils.serving_model_dir(model_uri), deny_regex_patterns=not_model)
  return version


# TFX will run this function as the executor of the LatestServedModel component.
@component
def LatestServedModel(  # pylint: disable=invalid-name
    examples: InputArtifact[standard_artifacts.Examples],
    model: OutputArtifact[standard_artifacts.Model],
    serving_root: Parameter[str],
    code: Parameter[str] = '',  # the module's code fingerprint: part of the cache key, unused otherwise
) -> None:
  """The newest model version under `serving_root` as a Model artifact (empty, with `served_version` '', when
  nothing was pushed yet).

  Args:
    examples: this run's examples. Not read: they make the step's cache key change with the data, so a run on new
      data looks again, and an unchanged re-run stays cached like the rest of the pipeline.
    model: the copy of the served model (`Format-Serving/`, and `warm_start/` when it was published).
    serving_root: the Pusher's base directory (local or a tf.io.gfile URI such as gs://).
    code: unused (cache key).
  """
  del examples, code
  version = copy_served_model(serving_root, model.uri)
  model.set_string_custom_property(SERVED_VERSION_PROPERTY, version)
  model.set_string_custom_property(SERVED_FROM_PROPERTY, version_path(serving_root, version) if version else '')
  if version:
    logging.info('Served model: version %s under %s', version, serving_root)
  else:
    logging.info('Nothing served under %s yet: no baseline, no warm start', serving_root)


def nothing_served(model: types.Artifact) -> bool:
  """Whether `model` is LatestServedModel's empty answer."""
  return (model.has_custom_property(SERVED_VERSION_PROPERTY)
          and not model.get_string_custom_property(SERVED_VERSION_PROPERTY))


class BaselineAwareEvaluatorExecutor(evaluator_executor.Executor):
  """TFX's Evaluator executor, with LatestServedModel's empty answer taken as "no baseline" (the first run
  is judged by its absolute thresholds only, as with an empty resolver locally)."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    key = standard_component_specs.BASELINE_MODEL_KEY
    if any(nothing_served(model) for model in input_dict.get(key, [])):
      input_dict = {**input_dict, key: []}
    super().Do(input_dict, output_dict, exec_properties)


class BaselineAwareEvaluator(tfx.components.Evaluator):
  """The Evaluator of the Kubeflow profile (see BaselineAwareEvaluatorExecutor)."""
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineAwareEvaluatorExecutor)
