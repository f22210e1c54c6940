"""`tfx-lstm compile` and `kubeflow-schedule`: a task's pipeline compiled for Kubeflow Pipelines v2 / Vertex AI,
and a KFP recurring run that retrains it on a schedule."""
import os

from cli import console
from cli import flags
from cli import run
from core.layout import RootLayout
from core.names import TASKS
from pipeline import preflight

IMAGE_DATA_ROOT = '/app/data'  # the bundled samples in the project image (Dockerfile: WORKDIR /app)


def add_parsers(commands) -> None:
  kubeflow_parser = flags.parser_with_examples(
      commands, 'kubeflow-schedule', help='write a Kubeflow Pipelines recurring-run body beside a compiled pipeline '
      'spec')
  kubeflow_parser.add_argument('pipeline_json', help='a pipeline spec compiled for KFP v2 (KubeflowV2DagRunner)')
  kubeflow_parser.add_argument('--cron', required=True, help='5-field cron expression, e.g. "0 3 * * *" '
                               '(written in KFP\'s 6-field form, seconds first)')
  kubeflow_parser.add_argument('--output', default='', metavar='FILE',
                               help='default: <pipeline name>-recurring-run.json beside the spec')
  kubeflow_parser.set_defaults(handler=kubeflow_schedule)

  compile_parser = flags.parser_with_examples(
      commands, 'compile', help='compile a task pipeline for Kubeflow Pipelines v2 / Vertex AI (KubeflowV2DagRunner)')
  compile_tasks = compile_parser.add_subparsers(dest='task', required=True)
  for name in TASKS:
    task_parser = compile_tasks.add_parser(name, help=f'the {name} task, with the task flags of `run {name}`')
    kfp = task_parser.add_argument_group('Kubeflow')
    kfp.add_argument('--output', required=True, metavar='FILE', help='pipeline.yaml: the KFP pipeline spec '
                     '(schema 2.1); pipeline.json: the Vertex AI PipelineJob form')
    kfp.add_argument('--image', default='tfx-lstm:latest', help='container image with this project installed '
                     '(the Dockerfile; default: %(default)s)')
    kfp.add_argument('--pipeline-root', required=True, metavar='URI',
                     help='component outputs, on storage every step reaches (gs://bucket/tfx-lstm, say)')
    kfp.add_argument('--serving', default='', metavar='URI',
                     help='where blessed models are pushed (default: <pipeline-root>/serving/<task>)')
    kfp.add_argument('--data-sample', default='', metavar='DIR',
                     help='a local copy of some of --data\'s files, laid out the same way: checked here when '
                     '--data is remote (default: --data itself)')
    kfp.add_argument('--beam-arg', action='append', default=[], metavar='ARG',
                     help='a Beam pipeline flag for the Beam steps, repeatable (e.g. Dataflow\'s, see '
                     'docs/kubeflow.md)')
    run.TASK_FLAGS[name](task_parser)
    flags.add_retraining_flags(task_parser)
  compile_parser.set_defaults(handler=compile_kubeflow)


def kubeflow_schedule(args) -> int:
  """Writes a KFP recurring-run request body beside a compiled pipeline spec."""
  from orchestration import kubeflow_runner  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(args.pipeline_json):
    raise console.UserError(f'{args.pipeline_json} does not exist (a pipeline spec compiled for Kubeflow Pipelines '
                            'v2)')
  try:
    path = kubeflow_runner.write_recurring_run(args.pipeline_json, args.cron, args.output or None)
  except ValueError as e:
    raise console.UserError(str(e)) from None
  print(path)
  return 0


def compile_kubeflow(args) -> int:
  """Compiles a task's pipeline (Kubeflow profile) for Kubeflow Pipelines v2 or Vertex AI; writes nothing else."""
  if not args.output.endswith(('.yaml', '.yml', '.json')):  # kubeflow_runner.OUTPUT_SUFFIXES, before TFX loads
    raise console.UserError(f'--output {args.output}: end it in .yaml (KFP pipeline spec) or .json (Vertex '
                            'PipelineJob)')
  if args.keep_versions < 1:
    raise console.UserError(f'--keep-versions must be at least 1, got {args.keep_versions}')
  image_root = os.path.dirname(IMAGE_DATA_ROOT)
  if args.schema and '://' not in args.schema and not args.schema.startswith(f'{image_root}/'):
    raise console.UserError(f'--schema {args.schema}: the Kubeflow steps read it, so give a URI they reach '
                            f'(gs://BUCKET/schema.pbtxt) or a path inside the image ({image_root}/...)')
  bundled = flags.BUNDLED_DATA[args.task]
  # The cluster reads --data; the columns and layout are checked here, on a local copy laid out the same way.
  data_uri = args.data
  if args.data == bundled:  # the bundled sample, inside the image
    data_uri = f'{IMAGE_DATA_ROOT}/{os.path.basename(bundled)}'
  args.data = args.data_sample or args.data
  if '://' in args.data or not os.path.isdir(args.data):
    raise console.UserError(f'--data {args.data} is not a local directory: give --data-sample DIR, a local copy of '
                            'a few of its files laid out the same way, to check its columns and layout here')
  from orchestration import kubeflow_runner  # pylint: disable=g-import-not-at-top
  checked = preflight.check(args.task, args)
  serving_root = args.serving or RootLayout.at(args.pipeline_root).serving_root(args.task)
  try:
    path = kubeflow_runner.compile_pipeline(
        checked.build_task(), args.output, args.pipeline_root, data_uri, serving_root, image=args.image,
        beam_pipeline_args=args.beam_arg, schema_file=args.schema or None, warm_start=not args.no_warm_start,
        keep_versions=args.keep_versions)
  except kubeflow_runner.KubeflowIncompatibleError as e:
    raise console.UserError(str(e)) from None
  print(f'{path}: {args.task} pipeline for Kubeflow Pipelines v2 (image {args.image}, data {data_uri}, '
        f'outputs {args.pipeline_root}, serving {serving_root})')
  return 0
