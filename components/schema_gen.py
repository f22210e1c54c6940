"""SchemaGen for data with free text: TFX's SchemaGen, whose inferred schema gives free-text (and timestamp) columns
no categorical domain.

TFDV infers a string domain (a closed list of allowed values) for every string feature with at most 100 distinct
values. On a small dataset that includes a column of sentences: 90 training reviews make a "category" of 90
values, and ExampleValidator then finds every eval sentence "missing from the schema", so the data check stops a
user's first run of a hundred rows. A sentence or a timestamp is never a category, whatever the dataset's size;
the task spec names those columns (`TaskSpec.free_text_features`) and this executor drops their domains after TFX's
own inference. Other string columns (slice columns, wind direction) keep theirs.
"""
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from tfx import types
from tfx.components.schema_gen import component as schema_gen_component
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils
from tfx.utils import json_utils

from tensorflow_metadata.proto.v0 import schema_pb2

FREE_TEXT_FEATURES_KEY = 'free_text_features'
CODE_KEY = 'code'


def without_domains(schema: schema_pb2.Schema, features: Sequence[str]) -> List[str]:
  """Removes the value domain of each named feature (and the schema-level string domain only it used); returns
  the features that had one."""
  cleared = []
  for feature in schema.feature:
    if feature.name in features and feature.WhichOneof('domain_info') is not None:
      feature.ClearField(feature.WhichOneof('domain_info'))
      cleared.append(feature.name)
  still_used = {f.domain for f in schema.feature if f.WhichOneof('domain_info') == 'domain'}
  unused = [d for d in schema.string_domain if d.name not in still_used]
  for domain in unused:
    schema.string_domain.remove(domain)
  return cleared


class FreeTextSchemaGenSpec(standard_component_specs.SchemaGenSpec):
  """SchemaGen's spec with the free-text feature names (a JSON list) and the module's code fingerprint."""
  PARAMETERS = {
      **standard_component_specs.SchemaGenSpec.PARAMETERS,
      FREE_TEXT_FEATURES_KEY: ExecutionParameter(type=str),
      CODE_KEY: ExecutionParameter(type=str, optional=True),  # part of the cache key only
  }


class FreeTextSchemaExecutor(schema_gen_executor.Executor):
  """TFX's SchemaGen executor, then no domain for the free-text features."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    super().Do(input_dict, output_dict, exec_properties)
    features = json.loads(exec_properties.get(FREE_TEXT_FEATURES_KEY) or '[]')
    path = os.path.join(artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY]),
                        schema_gen_executor.DEFAULT_FILE_NAME)
    schema = io_utils.parse_pbtxt_file(path, schema_pb2.Schema())
    if without_domains(schema, features):
      io_utils.write_pbtxt_file(path, schema)


class FreeTextSchemaGen(schema_gen_component.SchemaGen):
  """SchemaGen (TFX's inference) whose schema has no categorical domain for `free_text_features`."""
  SPEC_CLASS = FreeTextSchemaGenSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(FreeTextSchemaExecutor)

  def __init__(self, statistics: types.BaseChannel, free_text_features: Sequence[str],
               exclude_splits: Optional[List[str]] = None, code: str = ''):
    """Args: `statistics` and `exclude_splits` as TFX's SchemaGen (feature shapes are always inferred);
    `free_text_features`: columns that hold free text or timestamps; `code`: the module's code fingerprint."""
    spec = FreeTextSchemaGenSpec(
        statistics=statistics, infer_feature_shape=1, exclude_splits=json_utils.dumps(list(exclude_splits or [])),
        free_text_features=json.dumps(sorted(free_text_features)), code=code,
        schema=types.Channel(type=standard_artifacts.Schema))
    base_component.BaseComponent.__init__(self, spec=spec)  # SchemaGen's own __init__ builds SchemaGen's spec
