"""Running the pipeline: the local runner (LocalDagRunner), Airflow and Kubeflow runners, the local scheduler, and
the run lock and crash recovery that keep one root consistent."""
