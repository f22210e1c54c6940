"""The project's TensorFlow-free base, importable by every layer: its names (core/names.py), the layout of a run
root and of a serving directory (core/layout.py), and the data contract every input file is held to
(core/data_contract.py, reading files through core/storage.py). Nothing here imports TensorFlow, TFX or Beam
(tests/test_architecture.py checks it), but for tf.io.gfile when a data path is a URI (gs://, s3://)."""
