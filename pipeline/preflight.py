"""The pre-flight of a run: its data and settings checked before anything heavy loads, and the task spec they make.

`settings` holds what `tfx-lstm run TASK` was given: every flag by its argparse name (`settings.time_column` for
`--time-column`), defaults included. The CLI passes its parsed arguments; the Airflow DAG file its SETTINGS. The
checks read the data's headers and rows and the settings' values with the data contract (core/data_contract.py)
and import no TensorFlow, so a bad file, column or flag is reported at once, by a DataContractError naming it,
before anything is written. The task spec is built afterwards (`Checked.build_task`), when TensorFlow may load.
"""
import dataclasses
from typing import Any, Callable, Dict, Optional

from core import data_contract
from pipeline import gates
from preprocessing import options as preprocessing_options
from trainer import hyperparameters as trainer_hyperparameters

TASK_DEFAULTS = {
    'forecast': trainer_hyperparameters.ForecastHyperparameters(),
    'sentiment': trainer_hyperparameters.SentimentHyperparameters(),
    'translate': trainer_hyperparameters.TranslateHyperparameters(),
}


@dataclasses.dataclass
class Checked:
  """What the pre-flight found, and how to build the task spec once TensorFlow may load."""
  described: str  # the data in words, for the run's first console line
  build_task: Callable[[], Any]  # () -> pipeline.tasks.TaskSpec
  spans: Optional[data_contract.SpanSelection] = None


def from_settings(cls, settings, **overrides):
  """A dataclass of trainer/hyperparameters.py, preprocessing/options.py or pipeline/gates.py from the settings of
  the same names (plus `overrides`)."""
  values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)}
  return cls(**{**values, **overrides})


def _spans_back(task_name: str, settings) -> int:
  return data_contract.DEFAULT_SPANS_BACK[task_name] if settings.spans is None else settings.spans


def _spans(task_name: str, settings) -> data_contract.SpanSelection:
  """The span folders this run reads (none for a flat directory)."""
  return data_contract.select_spans(settings.data, _spans_back(task_name, settings), settings.span)


def _finish_task(task, task_name: str, settings, selection: data_contract.SpanSelection):
  """The task spec with the run's span selection, tuning and data gate."""
  from pipeline import tasks  # pylint: disable=g-import-not-at-top
  if selection.spans:
    task = tasks.with_spans(task, _spans_back(task_name, settings), settings.span)
  if settings.tune:
    task = tasks.with_tuning(task, tasks.Tuning(trials=settings.trials, minutes=settings.tune_minutes))
  data_gate = dataclasses.replace(
      task.data_gate,
      **{name: getattr(settings, name) for name in ('max_categorical_drift', 'max_numeric_drift')
         if getattr(settings, name) is not None})
  return dataclasses.replace(task, data_gate=data_gate)


def _with_spans_described(described: str, selection: data_contract.SpanSelection) -> str:
  return f'{described}; {selection.describe()}' if selection.spans else described


def check_forecast(settings) -> Checked:
  from components.window_config import WindowConfig  # pylint: disable=g-import-not-at-top
  features = [f.strip() for f in settings.features.split(',') if f.strip()] if settings.features else None
  selection = _spans('forecast', settings)
  # A gap no window can bridge is a data error unless allowed; ExampleGen checks it too, with the same text format.
  max_gap_steps = settings.window if settings.max_gap_steps is None else settings.max_gap_steps
  if max_gap_steps < 0:
    raise data_contract.DataContractError(f'--max-gap-steps must be 0 (any gap) or more, not {max_gap_steps}')
  found = data_contract.check_forecast_data(
      settings.data, settings.time_column, settings.target, features, settings.series_column,
      directories=selection.directories, max_gap_steps=max_gap_steps, step_seconds=settings.step_seconds)
  window_config = WindowConfig(  # validates names and split boundaries now, before anything heavy loads
      time_column=settings.time_column, target=settings.target, numeric_features=tuple(found.numeric_features),
      categorical_features=tuple(found.categorical_features), series_column=settings.series_column,
      window=settings.window, horizon=settings.horizon, step_seconds=settings.step_seconds,
      eval_start=settings.eval_start, test_start=settings.test_start, eval_fraction=settings.eval_fraction,
      test_fraction=settings.test_fraction, gap_policy=settings.gap_policy)

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.forecast_task(
        window_config, found.text_format,
        from_settings(preprocessing_options.ForecastOptions, settings,
                      calendar_features=not settings.no_calendar_features),
        from_settings(trainer_hyperparameters.ForecastHyperparameters, settings, residual=not settings.no_residual,
                      target_differences=not settings.no_target_differences),
        from_settings(gates.ForecastGate, settings)), 'forecast', settings, selection)

  return Checked(_with_spans_described(found.describe(settings.data, settings.target), selection), build_task,
                 selection)


def pretrained_embeddings(settings, defaults) -> Optional[Dict[str, Any]]:
  """Checks the --embeddings file (its first lines, and its SHA-256 for the Trainer's cache key) and sizes the
  embedding to it; None without one.
  Sets settings.embedding_dim: the flag, else the file's dimension, else the default."""
  from trainer import pretrained_embeddings as vectors  # pylint: disable=g-import-not-at-top  # no TensorFlow
  if settings.embedding_dim is not None and settings.embedding_dim < 1:
    raise data_contract.DataContractError(f'--embedding-dim must be at least 1, not {settings.embedding_dim}')
  if settings.freeze_embedding_epochs and settings.freeze_embedding_epochs >= settings.epochs:
    raise data_contract.DataContractError(
        f'--freeze-embedding-epochs {settings.freeze_embedding_epochs} leaves none of the {settings.epochs} epochs '
        'to train the embedding')
  if not settings.embeddings:
    if settings.freeze_embedding_epochs:
      raise data_contract.DataContractError('--freeze-embedding-epochs needs --embeddings FILE')
    settings.embedding_dim = settings.embedding_dim or defaults.embedding_dim
    return None
  config = vectors.trainer_config(settings.embeddings, settings.freeze_embedding_epochs,
                                  embedding_dim=settings.embedding_dim)
  settings.embedding_dim = config['dimension']
  return config


def check_sentiment(settings) -> Checked:
  slice_columns = tuple(c.strip() for c in settings.slice_columns.split(',') if c.strip())
  # Lets users type \t.
  delimiter = {'\\t': '\t', 'tab': '\t', 'comma': ','}.get(settings.delimiter, settings.delimiter)
  selection = _spans('sentiment', settings)
  found = data_contract.check_sentiment_spans(selection.directories, settings.text_column, settings.label_column,
                                              slice_columns, delimiter)
  embeddings = pretrained_embeddings(settings, TASK_DEFAULTS['sentiment'])

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.sentiment_task(
        found.input_splits, found.text_format, found.hash_splits, settings.text_column, settings.label_column,
        slice_columns, from_settings(preprocessing_options.SentimentOptions, settings),
        from_settings(trainer_hyperparameters.SentimentHyperparameters, settings),
        from_settings(gates.SentimentGate, settings), embeddings), 'sentiment', settings, selection)

  return Checked(_with_spans_described(f'{found.rows:,} labelled sentences in {settings.data} ({found.layout})',
                                       selection), build_task, selection)


def check_translate(settings) -> Checked:
  if settings.max_source_length < 1 or settings.max_target_length < 1:
    raise data_contract.DataContractError('--max-source-length and --max-target-length must be at least 1')
  selection = _spans('translate', settings)
  _, described = data_contract.check_translate_data(settings.data, settings.pattern, settings.max_line_chars,
                                                    directories=selection.directories)
  embeddings = pretrained_embeddings(settings, TASK_DEFAULTS['translate'])

  def build_task():
    from pipeline import tasks  # pylint: disable=g-import-not-at-top
    return _finish_task(tasks.translate_task(
        data_contract.translate_format(settings.max_line_chars), settings.pattern,
        from_settings(preprocessing_options.TranslateOptions, settings),
        from_settings(trainer_hyperparameters.TranslateHyperparameters, settings,
                      reverse_source=not settings.no_reverse_source),
        from_settings(gates.TranslateGate, settings), embeddings), 'translate', settings, selection)

  return Checked(_with_spans_described(described, selection), build_task, selection)


CHECKS = {'forecast': check_forecast, 'sentiment': check_sentiment, 'translate': check_translate}


def check(task_name: str, settings) -> Checked:
  """The pre-flight of `task_name` with `settings` (module docstring)."""
  return CHECKS[task_name](settings)


def schema_content(settings) -> Optional[str]:
  """The text of the curated schema (--schema), checked; None without one."""
  return data_contract.check_schema_file(settings.schema) if settings.schema else None
