"""Task specs: everything that differs between the three LSTM jobs, as data the pipeline factory reads."""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow_model_analysis as tfma

from components import windowing
from components.text_example_gen import TextFormat
from pipeline.hyperparameters import ForecastGate
from pipeline.hyperparameters import ForecastHyperparameters
from pipeline.hyperparameters import SentimentGate
from pipeline.hyperparameters import SentimentHyperparameters
from pipeline.hyperparameters import TranslateGate
from pipeline.hyperparameters import TranslateHyperparameters
from preprocessing.translate_transform import SOURCE_LENGTH_BUCKET_KEY
from trainer import metrics as project_metrics

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module(folder: str, name: str) -> str:
  return os.path.join(PACKAGE_ROOT, folder, f'{name}.py')


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One LSTM job, as the pipeline factory needs it."""
  name: str
  input_splits: Tuple[Tuple[str, str], ...]  # ExampleGen (split name, file pattern) pairs
  preprocessing_module: str  # file path of the module with preprocessing_fn
  trainer_module: str  # file path of the module with run_fn
  custom_config: Dict[str, Any]  # given to both preprocessing_fn and run_fn
  eval_config: tfma.EvalConfig
  transform_splits: Tuple[str, ...]
  window_config: Optional[windowing.WindowConfig] = None  # set: rows are windowed before Transform
  text_format: Optional[TextFormat] = None  # set: DelimitedTextExampleGen reads the data, else CsvExampleGen
  hash_splits: Tuple[Tuple[str, int], ...] = ()  # set: ExampleGen hash-splits one input split (name, buckets)
  partition_feature: str = ''  # set: the hash split keeps examples with equal values of this feature together


def forecast_task(window_config: windowing.WindowConfig,
                  hyperparameters: ForecastHyperparameters = ForecastHyperparameters(),
                  gate: ForecastGate = ForecastGate()) -> TaskSpec:
  """The forecast task for CSV rows described by `window_config`."""
  key = windowing.feature_key
  custom_config = {
      'numeric_features': [key(c) for c in window_config.numeric_features],
      'categorical_features': [key(c) for c in window_config.categorical_features],
      'target_feature': key(window_config.target),
      'time_feature': key(window_config.time_column) if hyperparameters.calendar_features else '',
      'window': window_config.window,
      'num_oov_buckets': 1,
      # What `tfx-lstm predict` needs to rebuild a raw window from a CSV.
      'metadata': {
          'time_column': window_config.time_column,
          'target': window_config.target,
          'series_column': window_config.series_column,
          'window': window_config.window,
          'horizon': window_config.horizon,
          'step_seconds': window_config.step_seconds,
          'columns': {key(c): c for c in window_config.input_features},
          'time_feature': key(window_config.time_column),
          'categorical_features': [key(c) for c in window_config.categorical_features],
      },
      **dataclasses.asdict(hyperparameters),
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
      preprocessing_module=_module('preprocessing', 'forecast_transform'),
      trainer_module=_module('trainer', 'forecast_trainer'),
      custom_config=custom_config,
      eval_config=eval_config,
      transform_splits=windowing.SPLITS,
      window_config=window_config,
  )


def _higher_is_better_gate(minimum: float, max_drop: float) -> tfma.PerSliceMetricThreshold:
  """On the overall slice only: value > minimum, and at most max_drop below the latest blessed model."""
  return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={'value': minimum + 1e-9}),
      change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                   absolute={'value': -max_drop})))


def sentiment_task(input_splits: Tuple[Tuple[str, str], ...], hash_splits: Tuple[Tuple[str, int], ...] = (),
                   text_column: str = 'text', label_column: str = 'label', delimiter: str = '\t',
                   slice_columns: Tuple[str, ...] = (),
                   hyperparameters: SentimentHyperparameters = SentimentHyperparameters(),
                   gate: SentimentGate = SentimentGate()) -> TaskSpec:
  """The sentiment task for delimited files with a header, a text column and a 0/1 label column."""
  custom_config = {'text_column': text_column, 'label_column': label_column, **dataclasses.asdict(hyperparameters)}
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
      text_format=TextFormat(columns=(text_column, label_column, *slice_columns), delimiter=delimiter,
                             int_columns=(label_column,), allowed_values={label_column: (0, 1)},
                             non_empty=(text_column,)),
      preprocessing_module=_module('preprocessing', 'sentiment_transform'),
      trainer_module=_module('trainer', 'sentiment_trainer'),
      custom_config=custom_config,
      eval_config=eval_config,
      transform_splits=('train', 'eval'),
  )


SOURCE_COLUMN, TARGET_COLUMN = 'source', 'target'  # feature names of the first two fields of a line


def translate_task(file_pattern: str = '*.txt', max_line_chars: int = 1000,
                   hyperparameters: TranslateHyperparameters = TranslateHyperparameters(),
                   gate: TranslateGate = TranslateGate()) -> TaskSpec:
  """The translate task for header-less tab-separated pair files (source, target, any extra fields ignored),
  hash-split 90/10 into train/eval by source sentence."""
  custom_config = {'source_column': SOURCE_COLUMN, 'target_column': TARGET_COLUMN,
                   **dataclasses.asdict(hyperparameters)}
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
      input_splits=(('pairs', file_pattern),),
      hash_splits=(('train', 9), ('eval', 1)),
      partition_feature=SOURCE_COLUMN,
      text_format=TextFormat(columns=(SOURCE_COLUMN, TARGET_COLUMN), header=False,
                             non_empty=(SOURCE_COLUMN, TARGET_COLUMN), max_line_chars=max_line_chars),
      preprocessing_module=_module('preprocessing', 'translate_transform'),
      trainer_module=_module('trainer', 'translate_trainer'),
      custom_config=custom_config,
      eval_config=eval_config,
      transform_splits=('train', 'eval'),
  )
