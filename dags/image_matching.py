"""Image matching: suggest images for Wikipedia articles that lack one.

Wiring only. The work is done by ``projects/image-matching`` (package
``image_matching``), run with this release's copy of that project's virtualenv.
``pad_runtime`` keeps deploy namespaces apart: the DAG id is suffixed outside the
plain deploy, and the output goes under the namespace's data root:
``<data_root>/image-matching/<ds>/matches.tsv``.

With a data profile (``deploy --data-profile small``), the inputs are the project's
fixtures, ``projects/image-matching/fixtures/<profile>/``; the ``errors`` profile holds
inputs the run must reject (it fails cleanly, writing nothing).
"""

from __future__ import annotations

import datetime as dt
import shlex

import pad_runtime as pad
import pendulum

try:  # Airflow 3
    from airflow.sdk import dag
except ImportError:  # Airflow 2
    from airflow.decorators import dag

try:  # Airflow 3 / standard provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator


PROJECT = "image-matching"
PYTHON = pad.python(PROJECT)
OUTPUT_ROOT = pad.data_path(PROJECT)
# Under a data profile the inputs are its fixtures; otherwise the package's own data.
INPUTS = ""
if pad.data_profile:
    INPUTS = " --articles %s --candidates %s" % (
        shlex.quote(pad.data_path(PROJECT, "articles.tsv")),
        shlex.quote(pad.data_path(PROJECT, "candidates.tsv")),
    )


@dag(
    dag_id=pad.dag_id("image_matching"),
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # A run on test data fails at once: no retry to wait for.
    default_args={"retries": 0 if pad.data_profile else 1, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "image-matching", "wikimedia", pad.namespace],
    doc_md=__doc__,
)
def image_matching():
    BashOperator(
        task_id="match_images",
        bash_command=(
            f"{shlex.quote(PYTHON)} -m image_matching"
            f" --output {shlex.quote(OUTPUT_ROOT)}/{{{{ ds }}}}/matches.tsv"
            " --snapshot {{ ds }}" + INPUTS
        ),
    )


image_matching()
