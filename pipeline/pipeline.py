"""The one pipeline factory. Every path and switch is an argument; it reads no flags or environment."""
import os
from typing import List, Literal, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.proto import transform_pb2

from components.atomic_pusher import AtomicPushExecutor
from components.baseline_resolver import DataReferencesStrategy
from components.baseline_resolver import LatestBlessedOtherModelStrategy
from components.baseline_resolver import WarmStartModelStrategy
from components.data_check import DataCheck
from components.eval_predictions import EvalPredictions
from components.schema_gen import FreeTextSchemaGen
from components.forecast_test_score import ForecastTestScore
from components.served_model import BaselineAwareEvaluator
from components.served_model import LatestServedModel
from components.serving_smoke_test import ServingSmokeTest
from components.sharded_transform import DEFAULT_OUTPUT_SHARDS
from components.sharded_transform import OUTPUT_SHARDS_KEY
from components.sharded_transform import ShardedTransform
from components.text_example_gen import DelimitedTextExampleGen
from components.windowing import TimeSeriesWindowGen
from pipeline.code_fingerprint import CODE_KEY
from pipeline.code_fingerprint import module_fingerprint
from pipeline import tasks
from pipeline.tasks import TaskSpec

# Where a pipeline runs decides how it finds earlier models (docs/design.md §12):
#   'local'    LocalDagRunner and Airflow: Resolver nodes read ML Metadata lineage (baseline, warm start, the data
#              check's references, the fixed schema).
#   'kubeflow' KFP v2 and Vertex AI, which cannot run our resolvers: LatestServedModel reads the served version
#              from the serving directory (baseline and warm start); the data check has no references.
Profile = Literal['local', 'kubeflow']
PROFILES = ('local', 'kubeflow')


def create_pipeline(
    task: TaskSpec,
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_root: str,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    schema_file: Optional[str] = None,
    warm_start: bool = True,
    keep_versions: int = 5,
    profile: Profile = 'local',
) -> tfx.dsl.Pipeline:
  """Builds ExampleGen -> statistics/schema/validation -> data check -> [windowing] -> Transform -> [Tuner ->]
  Trainer -> Evaluator -> serving smoke test -> Pusher [-> test-split score] -> eval predictions (for the report) for
  one task.

  Args:
    task: the task spec (modules, configuration, eval config).
    pipeline_name: MLMD pipeline name (lowercase, digits and '-' for Kubeflow).
    pipeline_root: where component outputs are written.
    data_root: directory of input files (`task.input_splits` patterns select them).
    serving_root: the blessed model is pushed to `<serving_root>/<version>/`.
    metadata_connection_config: ML Metadata connection; None lets the orchestrator provide one.
    beam_pipeline_args: for every Beam-based component.
    enable_cache: reuse outputs of executions whose inputs did not change.
    schema_file: a curated schema.pbtxt every run's data is held to; None: the schema SchemaGen inferred in the
      first run whose model was blessed (until then, each run's own).
    warm_start: the Trainer starts from the latest blessed model's weights (new data only; see
      components/baseline_resolver.py).
    keep_versions: pushed versions kept under `serving_root` (the newest is never removed).
    profile: 'local' (also Airflow) or 'kubeflow' (KFP v2, Vertex AI): see `Profile`.
  """
  if profile not in PROFILES:
    raise ValueError(f'profile must be one of {PROFILES}, got {profile!r}')
  input_config = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name=name, pattern=pattern) for name, pattern in task.input_splits])
  output_config = None
  if task.hash_splits:
    split_config = example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets) for name, buckets in task.hash_splits])
    if task.partition_feature:  # an empty name would make ExampleGen look for a feature called ''
      split_config.partition_feature_name = task.partition_feature
    output_config = example_gen_pb2.Output(split_config=split_config)
  example_gen = DelimitedTextExampleGen(data_root, task.text_format, input_config, output_config,
                                        code=module_fingerprint('components.text_example_gen'),
                                        spans_back=task.spans_back, span=task.span)
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
  if schema_file:
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_file)
  else:
    # The schema describes the training data; ExampleValidator then flags what the other splits have that
    # training did not (a category never seen in training, say). Inferring it from every split would make such
    # values valid.
    split_names = [name for name, _ in (task.hash_splits or task.input_splits)]
    schema_gen = FreeTextSchemaGen(
        statistics=statistics_gen.outputs['statistics'], free_text_features=task.free_text_features,
        exclude_splits=[name for name in split_names if name != 'train'] if 'train' in split_names else [],
        code=module_fingerprint('components.schema_gen')).with_id('SchemaGen')
  every_model = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)
  every_blessing = tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing)
  references, previous_statistics, served_statistics = None, None, None
  fixed_schema = schema_gen.outputs['schema']
  if profile == 'local':
    # Every statistics and schema artifact of the pipeline (the strategy keeps StatisticsGen's and SchemaGen's).
    # One channel object per input: the compiler keys inputs by channel, and a channel naming a producer would
    # mean this run's output only.
    every_statistics = lambda: tfx.dsl.Channel(  # pylint: disable=unnecessary-lambda-assignment
        type=tfx.types.standard_artifacts.ExampleStatistics)
    references = tfx.dsl.Resolver(
        strategy_class=DataReferencesStrategy,
        config={'fix_schema': not schema_file, 'statistics_node': statistics_gen.id, 'schema_node': schema_gen.id},
        statistics=statistics_gen.outputs['statistics'],
        schema=schema_gen.outputs['schema'],
        previous_statistics=every_statistics(),
        served_statistics=every_statistics(),
        fixed_schema=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Schema),
        model_blessing=every_blessing,
    ).with_id('data_references')
    fixed_schema = references.outputs['fixed_schema']
    previous_statistics = references.outputs['previous_statistics']
    served_statistics = references.outputs['served_statistics']
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=fixed_schema)
  data_check = DataCheck(
      examples=example_gen.outputs['examples'], statistics=statistics_gen.outputs['statistics'], schema=fixed_schema,
      anomalies=example_validator.outputs['anomalies'],
      previous_statistics=previous_statistics,
      served_statistics=served_statistics,
      max_categorical_linf=task.data_gate.max_categorical_drift,
      max_numeric_jsd=task.data_gate.max_numeric_drift,
      code=module_fingerprint('components.data_check'))
  components = [example_gen, statistics_gen, schema_gen, *([references] if references else []), example_validator,
                data_check]

  examples, schema = example_gen.outputs['examples'], fixed_schema
  if task.window_config is not None:
    window_gen = TimeSeriesWindowGen(
        examples=examples, schema=schema, window_config=task.window_config.to_json(),
        code=module_fingerprint('components.windowing'))
    window_gen.add_upstream_node(data_check)  # nothing is derived from data that failed its check
    examples, schema = window_gen.outputs['windowed_examples'], window_gen.outputs['window_schema_out']
    components.append(window_gen)

  # TFX's Transform, writing each split in several files with its count beside it (components/sharded_transform.py).
  transform = ShardedTransform(
      examples=examples,
      schema=schema,
      preprocessing_fn=task.preprocessing_fn,
      custom_config={**task.transform_config, OUTPUT_SHARDS_KEY: DEFAULT_OUTPUT_SHARDS,
                     'executor_code': module_fingerprint('components.sharded_transform')},
      splits_config=transform_pb2.SplitsConfig(analyze=['train'], transform=list(task.transform_splits)),
  ).with_id('Transform')
  transform.add_upstream_node(data_check)
  components.append(transform)
  served_model = None
  if profile == 'kubeflow':
    served_model = LatestServedModel(examples=example_gen.outputs['examples'], serving_root=serving_root,
                                     code=module_fingerprint('components.served_model'))
    served_model.add_upstream_node(data_check)  # nothing is fetched for data that failed its check
    components.append(served_model)
  base_model = None
  if warm_start and served_model:
    base_model = served_model.outputs['model']
  elif warm_start:
    warm_start_model = tfx.dsl.Resolver(
        strategy_class=WarmStartModelStrategy,
        model=every_model,
        model_blessing=every_blessing,
        examples=transform.outputs['transformed_examples'],
    ).with_id('warm_start_model')
    base_model = warm_start_model.outputs['model']
    components.append(warm_start_model)
  best_hyperparameters = None
  if task.tuning:
    # Trials train from scratch on the same transformed splits as the Trainer; the Trainer then trains once with
    # the best trial's values (its own warm start included). Cached like any component: same data, code and
    # search, no new search.
    tuner = tfx.components.Tuner(
        tuner_fn=task.tuner_fn,
        examples=transform.outputs['transformed_examples'],
        transform_graph=transform.outputs['transform_graph'],
        schema=schema,
        train_args=tfx.proto.TrainArgs(splits=['train']),
        eval_args=tfx.proto.EvalArgs(splits=['eval']),
        custom_config=tasks.tuner_config(task))
    best_hyperparameters = tuner.outputs['best_hyperparameters']
    components.append(tuner)
  trainer = tfx.components.Trainer(
      run_fn=task.run_fn,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema,
      base_model=base_model,
      hyperparameters=best_hyperparameters,
      custom_config=task.trainer_config)
  components.append(trainer)
  if served_model:
    evaluator = BaselineAwareEvaluator(
        examples=examples, schema=schema, model=trainer.outputs['model'],
        baseline_model=served_model.outputs['model'], eval_config=task.eval_config).with_id('Evaluator')
  else:
    baseline = tfx.dsl.Resolver(
        strategy_class=LatestBlessedOtherModelStrategy,
        model=every_model,
        model_blessing=every_blessing,
        candidate=trainer.outputs['model'],
    ).with_id('latest_blessed_baseline')
    evaluator = tfx.components.Evaluator(
        examples=examples,
        schema=schema,
        model=trainer.outputs['model'],
        baseline_model=baseline.outputs['model'],
        eval_config=task.eval_config)
    components.append(baseline)
  smoke_test = ServingSmokeTest(model=trainer.outputs['model'], examples=examples,
                                code=module_fingerprint('components.serving_smoke_test'))
  smoke_test.add_upstream_node(evaluator)  # run it on models that got that far, in pipeline order
  pusher = tfx.components.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      infra_blessing=smoke_test.outputs['infra_blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_root)),
      custom_config={CODE_KEY: module_fingerprint('components.atomic_pusher'), 'keep_versions': keep_versions},
      custom_executor_spec=executor_spec.ExecutorClassSpec(AtomicPushExecutor))
  components += [evaluator, smoke_test, pusher]
  if task.score_test_split:
    test_score = ForecastTestScore(model=trainer.outputs['model'], examples=examples,
                                   code=module_fingerprint('components.forecast_test_score'))
    test_score.add_upstream_node(pusher)  # the held-out year is looked at only after the push decision
    components.append(test_score)
  # For the run's report: each eval example beside the candidate's answer (and the test split's, after the push).
  predictions = EvalPredictions(
      model=trainer.outputs['model'], examples=examples, features=','.join(task.review_features),
      prediction_key=task.eval_config.model_specs[0].prediction_key, splits=','.join(task.review_splits),
      max_examples=task.review_max_examples, code=module_fingerprint('components.eval_predictions'))
  predictions.add_upstream_node(pusher)  # review material only: it never delays or blocks the push
  components.append(predictions)

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=components,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args or [],
  )


def sqlite_metadata(path: str) -> metadata_store_pb2.ConnectionConfig:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  return tfx.orchestration.metadata.sqlite_metadata_connection_config(path)
