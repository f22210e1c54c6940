# The tfx-lstm images.
#   docker build -t tfx-lstm .                              every step of the Kubeflow / Vertex AI pipeline runs in
#                                                           it (`tfx-lstm compile --image`); also `docker run tfx-lstm`
#   docker build --target beam-worker -t tfx-lstm-beam .    the same plus Beam's worker boot: the SDK container of
#                                                           Dataflow, Flink and Spark workers (docs/kubeflow.md)
# then push them to a registry the cluster pulls from.
# Same stack as `make`: Python 3.10 (.python-version; TFX 1.16 has no ml-metadata/TFDV wheels for 3.11+), the same
# pip and setuptools, and every version pinned by constraints.txt. tests/test_kubeflow_compile.py checks that this
# file keeps agreeing with the project.
FROM python:3.10.13-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_USE_LEGACY_KERAS=1

WORKDIR /app

# Dependencies first, in their own layer: a code change does not reinstall 3 GB of TFX.
COPY pyproject.toml constraints.txt README.md ./
RUN python -m pip install "pip==24.2" "setuptools==75.1.0" wheel \
 && mkdir -p cli core orchestration pipeline components preprocessing trainer records/templates predict \
 && python -m pip install -c constraints.txt .

# The project itself, editable so that the bundled samples stay at /app/data (the default --data of
# `tfx-lstm compile`) and `tfx-lstm run` works inside the container as it does in a checkout.
COPY cli/ cli/
COPY core/ core/
COPY orchestration/ orchestration/
COPY pipeline/ pipeline/
COPY components/ components/
COPY preprocessing/ preprocessing/
COPY trainer/ trainer/
COPY records/ records/
COPY predict/ predict/
COPY data/ data/
RUN python -m pip install --no-deps -c constraints.txt -e . \
 && python -c "import components, pipeline.pipeline, trainer.common"

# Beam workers run the project's DoFns (windowing, TFX's Beam steps) with the same code and pins; the boot
# program comes from Beam's own SDK image of the pinned release.
FROM base AS beam-worker
COPY --from=apache/beam_python3.10_sdk:2.59.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]

# The default target. Kubeflow steps override the entry point with TFX's launcher
# (python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor); `docker run tfx-lstm run forecast`
# runs the CLI.
FROM base AS app
ENTRYPOINT ["tfx-lstm"]
CMD ["--help"]
