"""Loads every DAG file of a folder with Airflow's DagBag and writes a JSON report.

Usage: python dag_check.py DAGS_FOLDER OUT_JSON

Run by `cargo xtask test` in the pinned Airflow tool environment. The report goes to a
file, because Airflow logs to stdout while it loads.
"""

import inspect
import json
import sys
import warnings


def load_dagbag_class():
    try:  # Airflow 3.1+
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    return DagBag


def find_cycle(dag):
    """The task ids of a dependency cycle in `dag`, or None."""
    state = {}
    for start in dag.task_dict:
        if start in state:
            continue
        stack = [(start, iter(sorted(dag.task_dict[start].downstream_task_ids)))]
        path = [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(sorted(dag.task_dict[child].downstream_task_ids))))
    return None


def main():
    folder, out = sys.argv[1], sys.argv[2]
    # Airflow appends the DAGs folder to sys.path, so DAGs import helpers beside them
    # (`from common.defaults import ...`): Airflow 2 when `airflow` is imported, Airflow 3
    # for the DAG bundle being parsed (BundleDagBag), which a plain DagBag does not do.
    if folder not in sys.path:
        sys.path.append(folder)
    warnings.simplefilter("ignore", DeprecationWarning)
    import airflow

    DagBag = load_dagbag_class()
    # Airflow 3.3 dropped `include_examples` (it never loads examples there).
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:
        bag = DagBag(dag_folder=folder, include_examples=False)
    else:
        bag = DagBag(dag_folder=folder)
    problems = []
    for path, trace in sorted(bag.import_errors.items()):
        lines = [line for line in str(trace).strip().splitlines() if line.strip()]
        kind = "duplicate dag_id" if "DuplicatedId" in str(trace) else (
            "cycle" if "Cycle" in str(trace) else "import error")
        problems.append({"file": path, "kind": kind, "message": lines[-1] if lines else "", "detail": str(trace)})
    dags = []
    for dag_id, dag in sorted(bag.dags.items()):
        cycle = find_cycle(dag)
        if cycle:
            problems.append({
                "file": dag.fileloc, "kind": "cycle",
                "message": "DAG %r has a cycle: %s" % (dag_id, " -> ".join(cycle)), "detail": "",
            })
        dags.append({"dag_id": dag_id, "file": dag.fileloc, "tasks": len(dag.tasks)})
    report = {"airflow_version": airflow.__version__, "dags": dags, "problems": problems}
    with open(out, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
