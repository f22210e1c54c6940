"""The `tfx-lstm` command: one module per command group (run, history, schedule, kubeflow, serving, predict),
`main.py` that builds the parser and dispatches, `flags.py` with the flags they share and `console.py` with
console output and error handling."""
import os

# docs/design.md §7: tf_keras everywhere. Set before TensorFlow is imported anywhere in the process: every CLI
# module is imported after this package.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
