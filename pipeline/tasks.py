"""Task specs: everything that differs between the three LSTM jobs, as data the pipeline factory reads.

Each task references its `preprocessing_fn` and `run_fn` by dotted path from the installed package, with a code
fingerprint of each in its component's config (see `pipeline/code_fingerprint.py`). Transform's config holds only
what `preprocessing_fn` reads; the Trainer's holds the rest, so a training-only change re-runs only the Trainer and
what follows it.
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple

import tensorflow_model_analysis as tfma

from components import windowing
from core.data_contract import SOURCE_COLUMN
from core.data_contract import SPAN_PATTERN_PREFIX
from core.data_contract import TARGET_COLUMN
from core.data_contract import check_file_pattern
from core.data_contract import TextFormat
from pipeline.code_fingerprint import CODE_KEY
from pipeline.code_fingerprint import code_fingerprint
from pipeline.gates import FORECAST_DATA_GATE
from pipeline.gates import TEXT_DATA_GATE
from pipeline.gates import DataGate
from pipeline.gates import ForecastGate
from pipeline.gates import SentimentGate
from pipeline.gates import TranslateGate
from preprocessing.options import ForecastOptions
from preprocessing.options import SentimentOptions
from preprocessing.options import TranslateOptions
from preprocessing.translate_transform import SOURCE_LENGTH_BUCKET_KEY
from components import metrics as project_metrics
from trainer.hyperparameters import ForecastHyperparameters
from trainer.hyperparameters import SEARCH_SPACES
from trainer.hyperparameters import SearchSpace
from trainer.hyperparameters import SentimentHyperparameters
from trainer.hyperparameters import TranslateHyperparameters



@dataclasses.dataclass(frozen=True)
class Tuning:
  """A hyperparameter search before training (`--tune`)."""
  trials: int = 10
  minutes: float = 0  # no new trial after this many minutes (one trial always runs); 0: no limit


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One LSTM job, as the pipeline factory needs it."""
  name: str
  input_splits: Tuple[Tuple[str, str], ...]  # ExampleGen (split name, file pattern) pairs
  text_format: TextFormat  # how DelimitedTextExampleGen reads the files
  preprocessing_fn: str  # dotted path of the task's preprocessing_fn
  run_fn: str  # dotted path of the task's run_fn
  transform_config: Dict[str, Any]  # preprocessing_fn's custom_config: only what it reads
  trainer_config: Dict[str, Any]  # run_fn's custom_config
  eval_config: tfma.EvalConfig
  transform_splits: Tuple[str, ...]
  window_config: Optional[windowing.WindowConfig] = None  # set: rows are windowed before Transform
  hash_splits: Tuple[Tuple[str, int], ...] = ()  # set: ExampleGen hash-splits one input split (name, buckets)
  partition_feature: str = ''  # set: the hash split keeps examples with equal values of this feature together
  score_test_split: bool = False  # the held-out test split is scored after the push (forecast)
  free_text_features: Tuple[str, ...] = ()  # columns SchemaGen must not make a category of (text, timestamps)
  review_features: Tuple[str, ...] = ()  # raw features kept beside each eval prediction for the run's report
  review_splits: Tuple[str, ...] = ('eval',)
  review_max_examples: int = 0  # per split, 0: all (translation decodes are slow: a sample)
  data_gate: DataGate = TEXT_DATA_GATE  # drift and skew thresholds of the data check
  spans_back: int = 1  # with span folders: how many spans up to the newest are read (0: all)
  span: Optional[int] = None  # with span folders: read up to this span instead of the newest
  tuner_fn: str = ''  # dotted path of the task's tuner_fn
  search_space: Optional[SearchSpace] = None  # what --tune searches
  tuning: Optional[Tuning] = None  # set (--tune): TFX's Tuner searches before the Trainer



def with_spans(task: TaskSpec, spans_back: int, span: Optional[int] = None) -> TaskSpec:
  """The task reading `span-{SPAN}/` folders: its input patterns under the span folder, the last `spans_back`
  spans up to the newest (or `span`)."""
  return dataclasses.replace(
      task, input_splits=tuple((name, SPAN_PATTERN_PREFIX + pattern) for name, pattern in task.input_splits),
      spans_back=spans_back, span=span)


def with_tuning(task: TaskSpec, tuning: Tuning) -> TaskSpec:
  """The task with TFX's Tuner before its Trainer: `tuning.trials` trials of the task's search space."""
  if tuning.trials < 1 or tuning.minutes < 0:
    raise ValueError(f'tuning needs at least 1 trial and minutes >= 0, got {tuning}')
  return dataclasses.replace(task, tuning=tuning)


def tuner_config(task: TaskSpec) -> Dict[str, Any]:
  """The Tuner's custom_config: the Trainer's (trials build the same models) plus the search, and the tuner_fn's
  code fingerprint."""
  space = task.search_space
  return {**task.trainer_config,
          'tuning': {'search_space': [dict(d) for d in space.dimensions], 'objective': space.objective,
                     'direction': space.direction, 'trials': task.tuning.trials, 'minutes': task.tuning.minutes},
          CODE_KEY: code_fingerprint(task.tuner_fn)}


def _code(task_name: str, transform_values: Dict[str, Any], trainer_values: Dict[str, Any],
          hyperparameters) -> Dict[str, Any]:
  """The TaskSpec fields for the task's code: its `preprocessing_fn` and `run_fn` by dotted path, and their configs,
  each with its code fingerprint. The Trainer also sees what Transform was configured with (it sizes inputs from
  it); changes there re-run Transform anyway."""
  preprocessing_fn = f'preprocessing.{task_name}_transform.preprocessing_fn'
  run_fn = f'trainer.{task_name}_trainer.run_fn'
  return {
      'preprocessing_fn': preprocessing_fn,
      'run_fn': run_fn,
      'tuner_fn': f'trainer.{task_name}_trainer.tuner_fn',
      'search_space': SEARCH_SPACES[task_name],
      'transform_config': {**transform_values, CODE_KEY: code_fingerprint(preprocessing_fn)},
      'trainer_config': {**transform_values, **trainer_values,
                         'hyperparameters': dataclasses.asdict(hyperparameters), CODE_KEY: code_fingerprint(run_fn)},
  }


def forecast_task(window_config: windowing.WindowConfig, text_format: TextFormat,
                  options: ForecastOptions = ForecastOptions(),
                  hyperparameters: ForecastHyperparameters = ForecastHyperparameters(),
                  gate: ForecastGate = ForecastGate()) -> TaskSpec:
  """The forecast task for CSV rows described by `window_config`, read with `text_format`."""
  key = windowing.feature_key
  transform_values = {
      'numeric_features': [key(c) for c in window_config.numeric_features],
      'categorical_features': [key(c) for c in window_config.categorical_features],
      'target_feature': key(window_config.target),
      'time_feature': key(window_config.time_column) if options.calendar_features else '',
      'num_oov_buckets': options.num_oov_buckets,
  }
  trainer_values = {
      'window': window_config.window,
      # What `tfx-lstm predict` needs to rebuild a raw window from a CSV.
      'metadata': {
          'time_column': window_config.time_column,
          'target': window_config.target,
          'series_column': window_config.series_column,
          'window': window_config.window,
          'horizon': window_config.horizon,
          'step_seconds': window_config.step_seconds,
          'columns': {key(c): c for c in window_config.input_features},
          'time_feature': transform_values['time_feature'],  # '' without calendar features
          'categorical_features': [key(c) for c in window_config.categorical_features],
      },
  }
  slices = [tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[windowing.TARGET_MONTH_KEY]),
            tfma.SlicingSpec(feature_keys=[windowing.TARGET_HOUR_KEY])]
  if window_config.series_column:
    slices.append(tfma.SlicingSpec(feature_keys=[windowing.SERIES_KEY]))
  overall = [tfma.SlicingSpec()]
  skill_gate = tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={'value': gate.min_skill + 1e-9})))
  mae_gate = tfma.PerSliceMetricThreshold(slicing_specs=overall, threshold=tfma.MetricThreshold(
      change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.LOWER_IS_BETTER,
                                                   absolute={'value': gate.max_mae_increase})))
  metric = project_metrics.forecast_metric_config
  eval_config = tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(signature_name='serving_default', label_key=windowing.LABEL_KEY,
                                  prediction_key='forecast')],
      slicing_specs=slices,
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          metric(project_metrics.MAE, per_slice_thresholds=[mae_gate]),
          metric(project_metrics.RMSE),
          metric(project_metrics.PERSISTENCE_MAE),
          metric(project_metrics.PERSISTENCE_RMSE),
          metric(project_metrics.FORECAST_SKILL, per_slice_thresholds=[skill_gate]),
      ])])
  return TaskSpec(
      name='forecast',
      input_splits=(('rows', '*.csv'),),
      text_format=text_format,
      eval_config=eval_config,
      transform_splits=windowing.SPLITS,
      **_code('forecast', transform_values, trainer_values, hyperparameters),
      window_config=window_config,
      score_test_split=True,
      free_text_features=(window_config.time_column,),
      review_features=(windowing.TARGET_TIMESTAMP_KEY, windowing.LABEL_KEY, windowing.PERSISTENCE_KEY,
                       windowing.SERIES_KEY),
      review_splits=('eval', 'test'),
      data_gate=FORECAST_DATA_GATE,
  )


def _higher_is_better_gate(minimum: float, max_drop: float) -> tfma.PerSliceMetricThreshold:
  """On the overall slice only: value > minimum, and at most max_drop below the latest blessed model."""
  return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={'value': minimum + 1e-9}),
      change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                   absolute={'value': -max_drop})))


def sentiment_task(input_splits: Tuple[Tuple[str, str], ...], text_format: TextFormat,
                   hash_splits: Tuple[Tuple[str, int], ...] = (), text_column: str = 'text',
                   label_column: str = 'label', slice_columns: Tuple[str, ...] = (),
                   options: SentimentOptions = SentimentOptions(),
                   hyperparameters: SentimentHyperparameters = SentimentHyperparameters(),
                   gate: SentimentGate = SentimentGate(),
                   pretrained_embeddings: Optional[Dict[str, Any]] = None) -> TaskSpec:
  """The sentiment task for delimited files with a header, a text column and a 0/1 label column.
  `pretrained_embeddings`: trainer.pretrained_embeddings.trainer_config(...) of a word-vector file, or None."""
  auc_gate = _higher_is_better_gate(gate.min_auc, gate.max_auc_drop)
  eval_config = tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(signature_name='serving_default', label_key=label_column,
                                  prediction_key='probability',
                                  preprocessing_function_names=['transform_features'])],
      slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=['length_bucket'])]
      + [tfma.SlicingSpec(feature_keys=[c]) for c in slice_columns],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          tfma.MetricConfig(class_name='AUC', per_slice_thresholds=[auc_gate]),
          tfma.MetricConfig(class_name='BinaryAccuracy'),
      ])])
  return TaskSpec(
      name='sentiment',
      input_splits=input_splits,
      hash_splits=hash_splits,
      text_format=text_format,
      eval_config=eval_config,
      transform_splits=('train', 'eval'),
      free_text_features=(text_column,),
      review_features=(text_column, label_column, *slice_columns),
      **_code('sentiment', {'text_column': text_column, 'label_column': label_column, **dataclasses.asdict(options)},
              {'pretrained_embeddings': pretrained_embeddings}, hyperparameters),
  )


def translate_task(text_format: TextFormat, file_pattern: str = '*.txt',
                   options: TranslateOptions = TranslateOptions(),
                   hyperparameters: TranslateHyperparameters = TranslateHyperparameters(),
                   gate: TranslateGate = TranslateGate(),
                   pretrained_embeddings: Optional[Dict[str, Any]] = None) -> TaskSpec:
  """The translate task for header-less tab-separated pair files (source, target, a third field ignored),
  hash-split 90/10 into train/eval by source sentence. `file_pattern` must stay inside the data directory.
  `pretrained_embeddings`: word vectors of the source language for the source embedding, or None."""
  bleu_gate = _higher_is_better_gate(gate.min_bleu, gate.max_bleu_drop)
  eval_config = tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(signature_name='serving_default', label_key=TARGET_COLUMN,
                                  prediction_key='translation',
                                  preprocessing_function_names=['transform_features'])],
      slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[SOURCE_LENGTH_BUCKET_KEY])],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name='ExampleCount'),
          project_metrics.bleu_metric_config(per_slice_thresholds=[bleu_gate]),
      ])])
  return TaskSpec(
      name='translate',
      input_splits=(('pairs', check_file_pattern(file_pattern)),),  # every runner, not only the CLI
      hash_splits=(('train', 9), ('eval', 1)),
      partition_feature=SOURCE_COLUMN,
      text_format=text_format,
      eval_config=eval_config,
      transform_splits=('train', 'eval'),
      free_text_features=(SOURCE_COLUMN, TARGET_COLUMN),
      review_features=(SOURCE_COLUMN, TARGET_COLUMN),
      review_max_examples=1000,
      **_code('translate', {'source_column': SOURCE_COLUMN, 'target_column': TARGET_COLUMN,
                            **dataclasses.asdict(options)}, {'pretrained_embeddings': pretrained_embeddings},
              hyperparameters),
  )
