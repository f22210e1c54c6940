"""Apache Airflow: the task pipeline as an Airflow DAG, through TFX's AirflowDagRunner.

`tfx-lstm airflow-dag TASK --output dags/TASK.py [--cron "0 3 * * *"] [run flags]` writes a small DAG file holding
the run's settings: every flag of `tfx-lstm run TASK`, by name, as the CLI parsed them (paths made absolute).
When Airflow parses the file, it calls `dag_from_settings`: the same pre-flight data check, task spec and
`create_pipeline` as a local run, with the same run root (pipeline outputs, ML Metadata in SQLite, serving
directory), so `tfx-lstm runs`, `report` and `serving` see Airflow's runs too. Each TFX component becomes an
Airflow task; `max_active_runs=1` keeps two retrains of the task from overlapping, and a tick without a new span
finds every component's inputs unchanged and is served from the cache.

Parsing the DAG imports TensorFlow and TFX and reads the data once (the pre-flight check), which takes longer
than Airflow's default 30 s DAG import timeout: set AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT (docs/operating.md).
"""
import argparse
import datetime
import os
import pprint
import shlex
from typing import Any, Dict, List, Optional

# The DAG file imports this module first; TensorFlow reads it at import (docs/design.md §7).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

DAG_FILE_TEMPLATE = '''"""Airflow DAG: tfx-lstm {task}, written by `tfx-lstm airflow-dag` on {written}.

It runs, as Airflow tasks (one per TFX component), what this command runs locally:
  tfx-lstm {command}
SETTINGS holds every flag of that command by name (defaults included); edit them below, or write the file again
with `tfx-lstm airflow-dag`.
"""
from orchestration import airflow_runner

SETTINGS = {settings}
CRON = {cron!r}

DAG = airflow_runner.dag_from_settings(SETTINGS, CRON)
'''
# A fixed date in the past: with catchup off, Airflow schedules from the next cron time after it is unpaused.
START_DATE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
PATH_SETTINGS = ('root', 'data', 'schema', 'embeddings')  # made absolute: Airflow parses from its own directory


def write_dag_file(output: str, settings: Dict[str, Any], run_argv: List[str], cron: Optional[str]) -> str:
  """Writes the DAG file of a run's `settings` (`run_argv`, the command line they came from, is shown in its
  docstring); returns its absolute path."""
  settings = {name: os.path.abspath(value) if name in PATH_SETTINGS and value else value
              for name, value in sorted(settings.items())}
  text = DAG_FILE_TEMPLATE.format(task=settings['task'], command=shlex.join(run_argv),
                                  written=datetime.date.today().isoformat(),
                                  settings=pprint.pformat(settings, width=100, sort_dicts=True), cron=cron)
  output = os.path.abspath(output)
  os.makedirs(os.path.dirname(output), exist_ok=True)
  with open(output + '.tmp', 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(output + '.tmp', output)  # Airflow may parse the folder at any moment: never half a file
  return output


def dag_from_settings(settings: Dict[str, Any], cron: Optional[str]):
  """The Airflow DAG of the pipeline a local run with these settings would run."""
  from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner  # pylint: disable=g-import-not-at-top
  from tfx.orchestration.airflow.airflow_dag_runner import AirflowPipelineConfig  # pylint: disable=g-import-not-at-top

  from orchestration import local_runner  # pylint: disable=g-import-not-at-top
  from pipeline import preflight  # pylint: disable=g-import-not-at-top
  run = argparse.Namespace(**settings)
  checked = preflight.check(run.task, run)  # bad data fails the DAG's import, naming the file and row
  pipeline = local_runner.pipeline_from_settings(run, checked.build_task(), preflight.schema_content(run))
  config = AirflowPipelineConfig(airflow_dag_config={
      'schedule': cron or None,  # Airflow 2.11's name (schedule_interval is deprecated)
      'start_date': START_DATE,
      'catchup': False,
      'max_active_runs': 1,
  })
  return AirflowDagRunner(config).run(pipeline)
