"""DAG of the {{name}} project: wiring only; the logic lives in projects/{{name}}."""

import os
import shlex
from datetime import datetime, timezone

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT = "{{name}}"
AIRFLOW_HOME = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
# The project's environment, unpacked by the deploy next to its venv.tar.gz.
PYTHON = os.path.join(AIRFLOW_HOME, PROJECT, "venv", "bin", "python")

with DAG(
    dag_id="{{package}}",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=[PROJECT],
) as dag:
    BashOperator(
        task_id="run",
        bash_command=shlex.quote(PYTHON) + " -m {{package}} --snapshot {{ ds }}",
    )


if __name__ == "__main__":
    # One run of this DAG in this process, every task in order, so it also runs under a
    # debugger: `AIRFLOW__CORE__DAGS_FOLDER=dags python dags/{{package}}.py` with Airflow
    # installed (Airflow 3 runs only DAGs of its DAGs folder). `cargo xtask dags test
    # {{package}}` does the same against the deployed release.
    dag.test()
