"""`python -m cli ARGS` runs `tfx-lstm ARGS` (how the scheduler starts each retrain, and how tests run it)."""
from cli.main import entry

entry()
