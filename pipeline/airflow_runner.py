"""Apache Airflow: the task pipeline as an Airflow DAG, through TFX's AirflowDagRunner.

`tfx-lstm airflow-dag TASK --output dags/TASK.py [--cron "0 3 * * *"] [run flags]` writes a small DAG file.
When Airflow parses it, it calls `dag_from_run_argv` with the flags of `tfx-lstm run TASK`: the same pre-flight
data check, task spec and `create_pipeline` as a local run, with the same run root (pipeline outputs, ML Metadata
in SQLite, serving directory), so `tfx-lstm runs`, `report` and `serving` see Airflow's runs too. Each TFX
component becomes an Airflow task; `max_active_runs=1` keeps two retrains of the task from overlapping, and a
tick without a new span finds every component's inputs unchanged and is served from the cache.

Parsing the DAG imports TensorFlow and TFX and reads the data once (the pre-flight check), which takes longer
than Airflow's default 30 s DAG import timeout: set AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT (README).
"""
import datetime
import os
import pprint
from typing import List, Optional

# The DAG file imports this module first; TensorFlow reads it at import (docs/design.md §7).
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

DAG_FILE_TEMPLATE = '''"""Airflow DAG: tfx-lstm {task}, written by `tfx-lstm airflow-dag` on {written}.

It runs `tfx-lstm {command}` as Airflow tasks (one per TFX component); edit the flags below, or write the
file again with `tfx-lstm airflow-dag`.
"""
from pipeline import airflow_runner

RUN_ARGV = {run_argv}
CRON = {cron!r}

DAG = airflow_runner.dag_from_run_argv(RUN_ARGV, CRON)
'''
# A fixed date in the past: with catchup off, Airflow schedules from the next cron time after it is unpaused.
START_DATE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def write_dag_file(output: str, run_argv: List[str], cron: Optional[str]) -> str:
  """Writes the DAG file for `tfx-lstm <run_argv>` (made absolute: Airflow parses from its own directory)."""
  run_argv = _absolute_paths(run_argv)
  text = DAG_FILE_TEMPLATE.format(task=run_argv[1], command=' '.join(run_argv),
                                  written=datetime.date.today().isoformat(),
                                  run_argv=pprint.pformat(run_argv, width=100, compact=True), cron=cron)
  output = os.path.abspath(output)
  os.makedirs(os.path.dirname(output), exist_ok=True)
  with open(output + '.tmp', 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(output + '.tmp', output)  # Airflow may parse the folder at any moment: never half a file
  return output


_PATH_FLAGS = ('--root', '--data', '--schema')


def _absolute_paths(run_argv: List[str]) -> List[str]:
  """`--root`, `--data` and `--schema` values as absolute paths, in either `--flag value` or `--flag=value` form;
  `--root` added (the default `runs`, made absolute) when missing."""
  result, absolute_next = [], False
  for arg in run_argv:
    if absolute_next:
      result.append(os.path.abspath(arg))
      absolute_next = False
    elif arg in _PATH_FLAGS:
      result.append(arg)
      absolute_next = True
    elif arg.split('=', 1)[0] in _PATH_FLAGS:
      flag, value = arg.split('=', 1)
      result.append(f'{flag}={os.path.abspath(value)}')
    else:
      result.append(arg)
  if not any(arg == '--root' or arg.startswith('--root=') for arg in result):
    result += ['--root', os.path.abspath('runs')]
  return result


def dag_from_run_argv(run_argv: List[str], cron: Optional[str]):
  """The Airflow DAG of the pipeline `tfx-lstm <run_argv>` would run locally."""
  from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner  # pylint: disable=g-import-not-at-top
  from tfx.orchestration.airflow.airflow_dag_runner import AirflowPipelineConfig  # pylint: disable=g-import-not-at-top

  from pipeline import cli  # pylint: disable=g-import-not-at-top
  pipeline = cli.pipeline_from_run_argv(run_argv)
  config = AirflowPipelineConfig(airflow_dag_config={
      'schedule': cron or None,  # Airflow 2.11's name (schedule_interval is deprecated)
      'start_date': START_DATE,
      'catchup': False,
      'max_active_runs': 1,
  })
  return AirflowDagRunner(config).run(pipeline)
