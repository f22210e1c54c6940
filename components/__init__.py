"""The pipeline's custom components, executors and resolver strategies.

The package also names the project's own artifact types. Kubeflow Pipelines v2 knows an artifact type only by its
name, and TFX's launcher in each step imports the class by that name, which must be `<package>.<Class>` (one dot).
So each type is called `components.<Class>` and is an attribute of this package, imported on first use (importing
`components` stays cheap: no Beam or TensorFlow until a type is asked for).
"""
import importlib

DATA_CHECK_RESULT = 'components.DataCheckResult'
PREDICTIONS = 'components.Predictions'
TEST_SCORE = 'components.TestScore'
WINDOW_REPORT = 'components.WindowReport'

# type name -> module that defines the class
_ARTIFACT_MODULES = {
    DATA_CHECK_RESULT: 'components.data_check',
    PREDICTIONS: 'components.eval_predictions',
    TEST_SCORE: 'components.forecast_test_score',
    WINDOW_REPORT: 'components.windowing',
}


def __getattr__(name: str):
  module = _ARTIFACT_MODULES.get(f'{__name__}.{name}')
  if module is None:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  return getattr(importlib.import_module(module), name)
