"""Runs `airflow dags test` in this process, then writes what the run gave as JSON.

Usage: python dags_test.py REPORT.json DAG_ID [airflow dags test arguments...]

The report: {"dag_id", "run_id", "state", "tasks": [{"task_id", "map_index", "state",
"try_number"}], "error", "known": [dag ids, when DAG_ID is unknown]}. The run's own
output (each task's log between "[DAG TEST] starting" and "[DAG TEST] end task") goes
to stdout as usual.
"""

from __future__ import annotations

import json
import os
import sys


def load_dagbag_class():
    try:  # Airflow 3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag
    return DagBag


def known_dags() -> list[str]:
    from airflow.configuration import conf

    DagBag = load_dagbag_class()
    folder = conf.get("core", "dags_folder")
    try:
        bag = DagBag(dag_folder=folder, include_examples=False)
    except TypeError:
        bag = DagBag(dag_folder=folder)
    return sorted(bag.dag_ids)


def main() -> int:
    report_path, dag_id = sys.argv[1], sys.argv[2]
    argv = ["dags", "test", dag_id, *sys.argv[3:]]
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(argv)
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        before = session.query(DagRun.id).order_by(DagRun.id.desc()).limit(1).scalar() or 0
    error = None
    try:
        args.func(args)
    except SystemExit as exc:  # `DagRun failed`, or a bad argument
        error = str(exc) if exc.code not in (0, None) else None
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        error = f"{type(exc).__name__}: {exc}"

    report = {"dag_id": dag_id, "run_id": None, "state": None, "tasks": [], "error": error, "known": None}
    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter(DagRun.dag_id == dag_id, DagRun.id > before)
            .order_by(DagRun.id.desc())
            .first()
        )
        if run is not None:
            report["run_id"] = run.run_id
            report["state"] = str(run.state.value if hasattr(run.state, "value") else run.state)
            tis = (
                session.query(TaskInstance)
                .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
                .all()
            )
            for ti in sorted(tis, key=lambda t: (t.start_date is None, t.start_date, t.task_id)):
                state = ti.state.value if hasattr(ti.state, "value") else ti.state
                report["tasks"].append(
                    {
                        "task_id": ti.task_id,
                        "map_index": ti.map_index,
                        "state": str(state) if state is not None else "none",
                        "try_number": ti.try_number,
                    }
                )
    if run is None:
        report["known"] = known_dags()
        if dag_id in report["known"]:
            report["known"] = None
    tmp = report_path + ".tmp"
    with open(tmp, "w") as out:
        json.dump(report, out)
    os.replace(tmp, report_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
