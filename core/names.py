"""Names the project gives things outside its own code: the task and pipeline names, and what it reads and writes
in ML Metadata. Spelled here once; everything else imports them."""
from typing import Optional

TASKS = ('forecast', 'sentiment', 'translate')
PROGRAM = 'tfx-lstm'  # the command, and the prefix of every name below that a user sees
PIPELINE_PREFIX = f'{PROGRAM}-'


def pipeline_name(task: str) -> str:
  """The task's TFX pipeline name (ML Metadata's pipeline context; the Airflow DAG id; the KFP pipeline name)."""
  return PIPELINE_PREFIX + task


def task_of(pipeline: str) -> Optional[str]:
  """The task a pipeline name belongs to, or None for a pipeline that is not this project's."""
  task = pipeline.removeprefix(PIPELINE_PREFIX)
  return task if pipeline.startswith(PIPELINE_PREFIX) and task in TASKS else None


# ML Metadata context types, as TFX names them: the pipeline, one pipeline run, one node. TFX's Airflow runner
# still records runs the pre-IR way: a 'run' context named '<pipeline>.<Airflow run id>' and the node as the
# execution's `component_id` property.
PIPELINE_CONTEXT, RUN_CONTEXT, NODE_CONTEXT = 'pipeline', 'pipeline_run', 'node'
LEGACY_RUN_CONTEXT, LEGACY_NODE_PROPERTY = 'run', 'component_id'
RUN_CONTEXTS = (RUN_CONTEXT, LEGACY_RUN_CONTEXT)

# Properties the project writes in ML Metadata.
FAILURE_PROPERTY = 'tfx_lstm_error'  # on a failed execution: the error it raised (TFX keeps it in the log only)
PLANNED_NODES_PROPERTY = 'tfx_lstm_nodes'  # on a run's context: its node ids in pipeline order (JSON)
SPANS_READ_PROPERTY = 'spans_read'  # on ExampleGen's examples: the span numbers read, comma-separated
SERVED_VERSION_PROPERTY = 'served_version'  # on LatestServedModel's model: '' when nothing was served yet
SERVED_FROM_PROPERTY = 'served_from'  # ... and the version directory it was copied from
ROLLBACK_EXECUTION_TYPE = f'{PROGRAM}.Rollback'  # `tfx-lstm rollback` records one such execution
ROLLBACK_OF_PROPERTY = 'rollback_of'  # on a rollback's PushedModel: the version it re-published
