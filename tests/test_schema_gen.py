"""FreeTextSchemaGen (components/schema_gen.py): TFX's schema inference, with no categorical domain for free text.

The executors run on real TFDV statistics of a few in-memory rows, written where StatisticsGen writes them.
"""
import json
import os

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import schema_gen

# Twenty reviews: TFDV makes any string feature with at most 100 distinct values a category.
ROWS = pd.DataFrame({
    'text': [f'review number {i} , a {"good" if i % 2 else "dull"} film .' for i in range(20)],
    'product': ['book' if i % 3 else 'film' for i in range(20)],
    'label': [i % 2 for i in range(20)],
})


def _infer(tmp_path, executor, free_text=()) -> schema_pb2.Schema:
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = str(tmp_path / 'statistics')
  statistics.split_names = artifact_utils.encode_split_names(['train'])
  os.makedirs(os.path.join(statistics.uri, 'Split-train'))
  with open(os.path.join(statistics.uri, 'Split-train', 'FeatureStats.pb'), 'wb') as f:
    f.write(tfdv.generate_statistics_from_dataframe(ROWS).SerializeToString())
  schema = standard_artifacts.Schema()
  schema.uri = str(tmp_path / 'schema')
  os.makedirs(schema.uri)
  executor.Do({'statistics': [statistics]}, {'schema': [schema]},
              {'infer_feature_shape': 1, 'exclude_splits': '[]',
               schema_gen.FREE_TEXT_FEATURES_KEY: json.dumps(list(free_text))})
  return tfdv.load_schema_text(os.path.join(schema.uri, 'schema.pbtxt'))


def _domains(schema: schema_pb2.Schema) -> dict:
  return {f.name: f.WhichOneof('domain_info') for f in schema.feature}


def test_tfx_schema_gen_makes_a_category_of_twenty_sentences(tmp_path):
  # The defect the component exists for: every eval sentence would be "missing from the schema".
  schema = _infer(tmp_path, schema_gen_executor.Executor())
  assert _domains(schema)['text'] == 'domain'
  assert len(tfdv.get_domain(schema, 'text').value) == len(ROWS)


def test_free_text_gets_no_domain_and_other_strings_keep_theirs(tmp_path):
  schema = _infer(tmp_path, schema_gen.FreeTextSchemaExecutor(), free_text=['text'])
  assert _domains(schema) == {'text': None, 'product': 'domain', 'label': 'bool_domain'}
  assert list(tfdv.get_domain(schema, 'product').value) == ['book', 'film']
  assert [d.name for d in schema.string_domain] == ['product']  # the text's list of values is gone too
  text = tfdv.get_feature(schema, 'text')
  assert text.type == schema_pb2.BYTES and text.shape.dim[0].size == 1  # the rest of TFX's inference stays


def test_without_domains_on_a_feature_with_no_domain_changes_nothing():
  schema = schema_pb2.Schema()
  schema.feature.add(name='text', type=schema_pb2.BYTES)
  before = schema.SerializeToString()
  assert schema_gen.without_domains(schema, ['text', 'absent']) == []
  assert schema.SerializeToString() == before


def test_every_task_names_its_free_text_columns():
  from core.data_contract import SOURCE_COLUMN, TARGET_COLUMN, TextFormat  # pylint: disable=g-import-not-at-top
  from components.window_config import WindowConfig  # pylint: disable=g-import-not-at-top
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  csv_format = TextFormat(columns=('when', 'load'), delimiter=',', quoting=True)
  forecast = tasks.forecast_task(WindowConfig(time_column='when', target='load', numeric_features=('load',)),
                                 csv_format)
  sentiment = tasks.sentiment_task((('rows', '*.csv'),), csv_format, text_column='review',
                                   slice_columns=('product',))
  translate = tasks.translate_task(csv_format)
  assert forecast.free_text_features == ('when',)
  assert sentiment.free_text_features == ('review',)
  assert translate.free_text_features == (SOURCE_COLUMN, TARGET_COLUMN)
