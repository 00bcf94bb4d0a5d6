"""DAG of the {{name}} project: wiring only; the logic lives in projects/{{name}}.

``pad_runtime`` (shipped next to the DAGs) keeps each deploy namespace apart: the DAG
id is suffixed outside the plain deploy, data goes under the namespace's data root, and
the interpreter is this release's copy of the project's environment.
"""

import shlex
from datetime import datetime, timezone

import pad_runtime as pad

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT = "{{name}}"
# The project's environment, unpacked by the deploy next to its venv.tar.gz.
PYTHON = pad.python(PROJECT)
OUTPUT = pad.data_path(PROJECT, "snapshots")

with DAG(
    dag_id=pad.dag_id("{{package}}"),
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=[PROJECT, pad.namespace],
) as dag:
    BashOperator(
        task_id="run",
        bash_command=shlex.quote(PYTHON) + " -m {{package}} --snapshot {{ ds }}",
        env={"OUTPUT_DIR": OUTPUT},
        append_env=True,
    )


if __name__ == "__main__":
    # One run of this DAG in this process, every task in order, so it also runs under a
    # debugger: `AIRFLOW__CORE__DAGS_FOLDER=dags python dags/{{package}}.py` with Airflow
    # installed (Airflow 3 runs only DAGs of its DAGs folder). `cargo xtask dags test
    # {{package}}` does the same against the deployed release.
    dag.test()
