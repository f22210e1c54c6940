"""Local run paths: LocalDagRunner, Beam DirectRunner, ML Metadata in SQLite under the root.

Only resolves paths and calls `create_pipeline`; the CLI runs the result with LocalDagRunner and adds progress
and the summary.
"""
import dataclasses
import os
from typing import List, Optional

from pipeline.pipeline import create_pipeline
from pipeline.pipeline import sqlite_metadata
from pipeline.tasks import TaskSpec

# Small data on a 2-core machine: one in-process worker beats multi-process start-up every time.
DEFAULT_BEAM_ARGS = ['--direct_running_mode=in_memory', '--direct_num_workers=1']


@dataclasses.dataclass(frozen=True)
class RunPaths:
  root: str
  pipeline_root: str
  metadata_path: str
  serving_root: str
  logs: str

  @classmethod
  def under(cls, root: str, task_name: str) -> 'RunPaths':
    root = os.path.abspath(root)
    return cls(root=root,
               pipeline_root=os.path.join(root, 'pipelines', task_name),
               metadata_path=os.path.join(root, 'metadata.sqlite'),
               serving_root=os.path.join(root, 'serving', task_name),
               logs=os.path.join(root, 'logs'))


def pipeline_name(task: TaskSpec) -> str:
  return f'tfx-lstm-{task.name}'


def build_local_pipeline(task: TaskSpec, data_root: str, paths: RunPaths,
                         beam_pipeline_args: Optional[List[str]] = None, enable_cache: bool = True):
  """The task's pipeline with local paths: SQLite metadata under the root, in-process Beam."""
  return create_pipeline(
      task=task,
      pipeline_name=pipeline_name(task),
      pipeline_root=paths.pipeline_root,
      data_root=os.path.abspath(data_root),
      serving_root=paths.serving_root,
      metadata_connection_config=sqlite_metadata(paths.metadata_path),
      beam_pipeline_args=beam_pipeline_args or DEFAULT_BEAM_ARGS,
      enable_cache=enable_cache,
  )

