"""`tfx-lstm predict TASK`: query a pushed model from the command line (predict/ does the querying)."""
from cli import console
from cli import flags

MODEL_HELP = 'pushed model version directory, or the serving root of the task'


def add_parser(commands) -> None:
  predict_parser = flags.parser_with_examples(commands, 'predict', help='query a pushed model')
  predict_tasks = predict_parser.add_subparsers(dest='task', required=True)
  forecast = predict_tasks.add_parser('forecast', help='forecast after the last window(s) of a CSV')
  forecast.add_argument('--model', required=True, help=MODEL_HELP)
  forecast.add_argument('--input', required=True, help='CSV with the columns the model was trained on')
  forecast.add_argument('--last', type=int, default=1, help='forecast from the last N windows')
  sentiment = predict_tasks.add_parser('sentiment', help='P(positive) of each sentence')
  sentiment.add_argument('--model', required=True, help=MODEL_HELP)
  sentiment.add_argument('sentences', nargs='+', help='raw sentences')
  translate = predict_tasks.add_parser('translate', help='translate source sentences')
  translate.add_argument('--model', required=True, help=MODEL_HELP)
  translate.add_argument('sentences', nargs='+', help='raw source sentences')
  predict_parser.set_defaults(handler=predict)


def predict(args) -> int:
  from predict import ModelNotFound, resolve_model_dir  # pylint: disable=g-import-not-at-top
  from trainer.common import read_model_metadata  # pylint: disable=g-import-not-at-top
  try:
    model_dir = resolve_model_dir(args.model)
  except ModelNotFound as e:
    raise console.UserError(str(e)) from None
  try:
    model_task = read_model_metadata(model_dir).get('task')
  except FileNotFoundError as e:
    raise console.UserError(str(e)) from None
  if model_task != args.task:
    raise console.UserError(f'{model_dir} is a {model_task} model, not a {args.task} model')
  if args.task == 'forecast':
    from predict.forecast import forecast_csv  # pylint: disable=g-import-not-at-top
    if args.last < 1:
      raise console.UserError('--last must be at least 1')
    lines = forecast_csv(model_dir, args.input, args.last)
  elif args.task == 'sentiment':
    from predict.sentences import classify  # pylint: disable=g-import-not-at-top
    lines = classify(model_dir, args.sentences)
  else:
    from predict.sentences import translate  # pylint: disable=g-import-not-at-top
    lines = translate(model_dir, args.sentences)
  for line in lines:
    print(line)
  return 0
