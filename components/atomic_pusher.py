"""A Pusher executor that never leaves a half-written model version behind.

TFX's filesystem Pusher copies the SavedModel straight into `<base>/<version>/`, so a crash or a full disk
mid-copy leaves a partial version that a model server would pick up. This executor copies into a hidden
staging directory beside it and renames it into place, which is atomic on one filesystem.
"""
import os
import time
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils


class AtomicPushExecutor(pusher_executor.Executor):
  """Pushes a blessed model to `<base_directory>/<unix time>/` by copy-then-rename."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    pushed_model = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(pushed_model)
      return
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
    base = destination.filesystem.base_directory
    fileio.makedirs(base)
    version = int(time.time())
    while fileio.exists(os.path.join(base, str(version))):
      version += 1
    final = os.path.join(base, str(version))
    staging = os.path.join(base, f'.staging-{version}-{os.getpid()}')
    try:
      io_utils.copy_dir(self.GetModelPath(input_dict), staging)
      fileio.rename(staging, final)
    finally:
      if fileio.exists(staging):
        fileio.rmtree(staging)
    logging.info('Model pushed to %s', final)
    self._MarkPushed(pushed_model, pushed_destination=final, pushed_version=str(version))
