"""Image matching: suggest images for Wikipedia articles that lack one.

Wiring only. The work is done by ``projects/image-matching`` (package
``image_matching``), deployed to ``<AIRFLOW_HOME>/image-matching`` and run with
that project's own virtualenv, ``<AIRFLOW_HOME>/image-matching/venv``.
Output: ``<AIRFLOW_HOME>/data/image-matching/<ds>/matches.tsv``.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex

import pendulum

try:  # Airflow 3
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

try:  # Airflow 3 / standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator


def _airflow_home() -> str:
    home = os.environ.get("AIRFLOW_HOME")
    if not home:
        try:
            from airflow.configuration import AIRFLOW_HOME as home
        except ImportError:
            home = "~/airflow"
    return os.path.abspath(os.path.expanduser(home))


PROJECT = "image-matching"
AIRFLOW_HOME = _airflow_home()
PYTHON = os.path.join(AIRFLOW_HOME, PROJECT, "venv", "bin", "python")
OUTPUT_ROOT = os.path.join(AIRFLOW_HOME, "data", PROJECT)


@dag(
    dag_id="image_matching",
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "image-matching", "wikimedia"],
    doc_md=__doc__,
)
def image_matching():
    BashOperator(
        task_id="match_images",
        bash_command=(
            f"{shlex.quote(PYTHON)} -m image_matching"
            f" --output {shlex.quote(OUTPUT_ROOT)}/{{{{ ds }}}}/matches.tsv"
            " --snapshot {{ ds }}"
        ),
    )


image_matching()
