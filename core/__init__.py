"""The project's TensorFlow-free base, importable by every layer: its names (core/names.py), the layout of a run
root and of a serving directory (core/layout.py), and the data contract every input file is held to
(core/data_contract.py). Nothing here imports TensorFlow, TFX or Beam (tests/test_architecture.py checks it)."""
