"""Beam across processes on this machine: a Beam job service and an SDK worker pool, each its own process.

`tfx-lstm run TASK --beam-workers N` runs every Beam step of the pipeline the way a cluster runs it: the step
submits its job to a job service (`apache_beam.runners.portability.local_job_service_main`) through the
PortableRunner, and the job service runs the job's bundles on N SDK worker processes that an external worker pool
(`apache_beam.runners.worker.worker_pool_main`, `--environment_type=EXTERNAL`) starts. This is the Fn API path of
Flink, Spark and Dataflow Runner v2; nothing of a step's data is processed in the process that launched it.

The worker pool starts each SDK worker as `python` from its PATH, so the pool runs with this interpreter's folder
first on PATH: the workers then import the same Beam, TFX and project code as the launching process. (With
another `python` first, the workers die with "No module named apache_beam" and the job ends in
DEADLINE_EXCEEDED.) Both services log to files under the run's log folder, and both are stopped, with the workers
they started, when the run ends, however it ends.
"""
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Iterator, List

JOB_SERVICE = 'apache_beam.runners.portability.local_job_service_main'
WORKER_POOL = 'apache_beam.runners.worker.worker_pool_main'
START_SECONDS = 120  # a service that has not opened its port by then has failed (they start in a few seconds)


class BeamServicesError(RuntimeError):
  """A Beam service did not start."""


@dataclasses.dataclass(frozen=True)
class BeamServices:
  """Where the running services listen, and the Beam flags that send a pipeline's steps to them."""
  job_endpoint: str
  worker_pool: str
  workers: int
  logs: List[str]

  def beam_args(self) -> List[str]:
    return ['--runner=PortableRunner', f'--job_endpoint={self.job_endpoint}', '--environment_type=EXTERNAL',
            f'--environment_config={self.worker_pool}', f'--sdk_worker_parallelism={self.workers}']


def _free_port() -> int:
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    probe.bind(('localhost', 0))
    return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, name: str, log_path: str) -> None:
  deadline = time.time() + START_SECONDS
  while time.time() < deadline:
    if process.poll() is not None:
      raise BeamServicesError(f'the Beam {name} exited with status {process.returncode} before it listened on '
                              f'port {port}; see {log_path}')
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
      if probe.connect_ex(('localhost', port)) == 0:
        return
    time.sleep(0.2)
  raise BeamServicesError(f'the Beam {name} did not listen on port {port} within {START_SECONDS} s; see {log_path}')


def _start(module: str, args: List[str], log_path: str, env) -> subprocess.Popen:
  with open(log_path, 'ab') as log:
    # Its own process group: stopping it stops the SDK workers it started too.
    return subprocess.Popen([sys.executable, '-m', module, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
  if process.poll() is not None:
    return
  try:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=10)
  except (ProcessLookupError, subprocess.TimeoutExpired):
    with contextlib.suppress(ProcessLookupError):
      os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def local_beam_services(log_dir: str, workers: int, name: str = 'beam') -> Iterator[BeamServices]:
  """Starts a job service and a worker pool for `workers` SDK worker processes; stops them on exit.

  Args:
    log_dir: their log files go here (`<name>-job-service.log`, `<name>-worker-pool.log`).
    workers: SDK worker processes per job (the pipeline's `sdk_worker_parallelism`).
    name: the log files' prefix (the run id).
  """
  if workers < 1:
    raise ValueError(f'workers must be at least 1, got {workers}')
  os.makedirs(log_dir, exist_ok=True)
  env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get('PATH', '')]))
  job_port, pool_port = _free_port(), _free_port()
  job_log = os.path.join(log_dir, f'{name}-job-service.log')
  pool_log = os.path.join(log_dir, f'{name}-worker-pool.log')
  started = []
  try:
    started.append(_start(WORKER_POOL, [f'--service_port={pool_port}'], pool_log, env))
    started.append(_start(JOB_SERVICE, [f'--port={job_port}'], job_log, env))
    _wait_for_port(pool_port, started[0], 'worker pool', pool_log)
    _wait_for_port(job_port, started[1], 'job service', job_log)
    yield BeamServices(f'localhost:{job_port}', f'localhost:{pool_port}', workers, [job_log, pool_log])
  finally:
    for process in reversed(started):
      _stop(process)
