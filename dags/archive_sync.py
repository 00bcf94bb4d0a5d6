"""Archive sync: copy new and changed files from an archive to its mirror.

Wiring only. The work is done by ``projects/archive-sync``, deployed to
``<AIRFLOW_HOME>/archive-sync`` with its own virtualenv in ``venv/``:

1. ``plan``   -- ``python -m archive_sync plan`` writes the manifest of files to copy;
2. ``sync``   -- ``sh bin/sync.sh`` copies them;
3. ``verify`` -- ``python -m archive_sync verify`` checks the result.

Source and destination come from the Airflow Variables ``archive_sync_source``
and ``archive_sync_dest`` (defaults: ``<AIRFLOW_HOME>/data/archive-sync/source``
and ``.../dest``). The source directory must exist. Templated values reach the
commands through environment variables, so they are never parsed by the shell.
"""

from __future__ import annotations

import datetime as dt
import json
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


def _variable(name: str, default: str) -> str:
    # json.dumps gives a double-quoted string literal that Jinja parses as-is.
    return "{{ var.value.get(%s, %s) }}" % (json.dumps(name), json.dumps(default))


PROJECT = "archive-sync"
AIRFLOW_HOME = _airflow_home()
PROJECT_DIR = os.path.join(AIRFLOW_HOME, PROJECT)
PYTHON = shlex.quote(os.path.join(PROJECT_DIR, "venv", "bin", "python"))
SYNC_SH = shlex.quote(os.path.join(PROJECT_DIR, "bin", "sync.sh"))
DATA_DIR = os.path.join(AIRFLOW_HOME, "data", PROJECT)

ENV = {
    "ARCHIVE_SYNC_SOURCE": _variable("archive_sync_source", os.path.join(DATA_DIR, "source")),
    "ARCHIVE_SYNC_DEST": _variable("archive_sync_dest", os.path.join(DATA_DIR, "dest")),
    # run ids only contain [A-Za-z0-9_.~:+-]
    "ARCHIVE_SYNC_MANIFEST": os.path.join(DATA_DIR, "manifests", "{{ run_id }}.txt"),
}
DIRS = '--source "$ARCHIVE_SYNC_SOURCE" --dest "$ARCHIVE_SYNC_DEST"'


@dag(
    dag_id="archive_sync",
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
