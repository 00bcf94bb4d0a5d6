"""Archive sync: copy new and changed files from an archive to its mirror.

Wiring only. The work is done by ``projects/archive-sync``, this release's copy,
with its own virtualenv in ``venv/`` (``pad_runtime`` finds both, and keeps deploy
namespaces apart: the DAG id is suffixed outside the plain deploy and data goes under
the namespace's data root):

1. ``plan``   -- ``python -m archive_sync plan`` writes the manifest of files to copy;
2. ``sync``   -- ``sh bin/sync.sh`` copies them;
3. ``verify`` -- ``python -m archive_sync verify`` checks the result.

Source and destination come from the Airflow Variables ``archive_sync_source``
and ``archive_sync_dest`` (defaults: ``<data_root>/archive-sync/source``
and ``.../dest``). The source directory must exist. Templated values reach the
commands through environment variables, so they are never parsed by the shell.
"""

from __future__ import annotations

import datetime as dt
import json
import os
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


def _variable(name: str, default: str) -> str:
    # json.dumps gives a double-quoted string literal that Jinja parses as-is.
    return "{{ var.value.get(%s, %s) }}" % (json.dumps(name), json.dumps(default))


PROJECT = "archive-sync"
PROJECT_DIR = pad.project_dir(PROJECT)
PYTHON = shlex.quote(pad.python(PROJECT))
SYNC_SH = shlex.quote(os.path.join(PROJECT_DIR, "bin", "sync.sh"))
DATA_DIR = pad.data_path(PROJECT)

ENV = {
    "ARCHIVE_SYNC_SOURCE": _variable("archive_sync_source", os.path.join(DATA_DIR, "source")),
    "ARCHIVE_SYNC_DEST": _variable("archive_sync_dest", os.path.join(DATA_DIR, "dest")),
    # run ids only contain [A-Za-z0-9_.~:+-]
    "ARCHIVE_SYNC_MANIFEST": os.path.join(DATA_DIR, "manifests", "{{ run_id }}.txt"),
}
DIRS = '--source "$ARCHIVE_SYNC_SOURCE" --dest "$ARCHIVE_SYNC_DEST"'


@dag(
    dag_id=pad.dag_id("archive_sync"),
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10)},
    tags=["example", "archive-sync", "bdrc"],
    doc_md=__doc__,
)
def archive_sync():
    plan = BashOperator(
        task_id="plan",
        bash_command=f'{PYTHON} -m archive_sync plan {DIRS} --manifest "$ARCHIVE_SYNC_MANIFEST"',
        env=ENV,
        append_env=True,
    )
    sync = BashOperator(
        task_id="sync",
        bash_command=(
            f'sh {SYNC_SH} "$ARCHIVE_SYNC_SOURCE" "$ARCHIVE_SYNC_DEST" "$ARCHIVE_SYNC_MANIFEST"'
        ),
        env=ENV,
        append_env=True,
    )
    verify = BashOperator(
        task_id="verify",
        bash_command=f"{PYTHON} -m archive_sync verify {DIRS}",
        env=ENV,
        append_env=True,
    )
    plan >> sync >> verify


archive_sync()
