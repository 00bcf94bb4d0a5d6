"""Loads every DAG file of a folder with Airflow's DagBag and writes a JSON report.

Usage: python dag_check.py DAGS_FOLDER OUT_JSON

Run by `cargo xtask test` in the pinned Airflow tool environment. The report goes to a
file, because Airflow logs to stdout while it loads.

The DAGs are loaded twice: as the plain deploy and as the test namespace below (through
the runtime helper's PAD_NAMESPACE and PAD_DATA_ROOT). A DAG id found in both loads
would collide when namespaces run side by side on one Airflow. The files are also read
statically (`ast`) for literal absolute paths in operator arguments, which would write
outside the namespace's data root.
"""

import ast
import inspect
import json
import os
import re
import sys
import warnings

TEST_NAMESPACE = "pad-check"
# Absolute paths that are programs or devices, not data.
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/etc/", "/dev/", "/proc/", "/sys/")
PATH_TOKEN = re.compile(r"(?:^|[\s=:'\"<>(|;])(/[A-Za-z0-9._\-]+(?:/[A-Za-z0-9._\-{}]*)*)")


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


def load(DagBag, folder, namespace, data_root):
    if namespace:
        os.environ["PAD_NAMESPACE"] = namespace
    else:
        os.environ.pop("PAD_NAMESPACE", None)
    os.environ["PAD_DATA_ROOT"] = data_root
    # Airflow 3.3 dropped `include_examples` (it never loads examples there).
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:
        return DagBag(dag_folder=folder, include_examples=False)
    return DagBag(dag_folder=folder)


def callee_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def literal_paths(node):
    """Absolute paths written literally in `node` (a string, an f-string's literal parts)."""
    texts = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            texts.append(sub.value)
    for text in texts:
        for match in PATH_TOKEN.finditer(text):
            path = match.group(1)
            if path.count("/") >= 2 and not path.startswith(SYSTEM_PREFIXES):
                yield path


def static_problems(folder):
    """Operator arguments holding a literal absolute path: outside any data root."""
    problems = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".py") or name == "pad_runtime.py":
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read(), filename=path)
            except (OSError, SyntaxError, ValueError):
                continue  # the DagBag reports it
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
                op = callee_name(call.func)
                if not (op.endswith("Operator") or op.endswith("Sensor")):
                    continue
                args = [(None, a) for a in call.args] + [(k.arg, k.value) for k in call.keywords]
                for arg, value in args:
                    for literal in literal_paths(value):
                        where = "argument %r" % arg if arg else "a positional argument"
                        problems.append({
                            "file": path,
                            "kind": "outside data root",
                            "message": "line %d: %s of %s holds the absolute path %r, which is outside the "
                            "namespace's data root: build it with pad_runtime.data_path(project, ...)"
                            % (call.lineno, where, op, literal),
                            "detail": "",
                        })
    return problems


def main():
    folder, out = sys.argv[1], sys.argv[2]
    # Airflow appends the DAGs folder to sys.path, so DAGs import helpers beside them
    # (`from common.defaults import ...`): Airflow 2 when `airflow` is imported, Airflow 3
    # for the DAG bundle being parsed (BundleDagBag), which a plain DagBag does not do.
    if folder not in sys.path:
        sys.path.append(folder)
    # The toolchain's runtime helper, for DAG folders that do not hold their own copy.
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)
    warnings.simplefilter("ignore", DeprecationWarning)
    import airflow

    DagBag = load_dagbag_class()
    data = os.path.join(os.environ.get("AIRFLOW_HOME") or here, "data")
    bag = load(DagBag, folder, None, os.path.join(data, "prod"))
    other = load(DagBag, folder, TEST_NAMESPACE, os.path.join(data, TEST_NAMESPACE))
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
    for path, trace in sorted(other.import_errors.items()):
        if path in bag.import_errors:
            continue
        lines = [line for line in str(trace).strip().splitlines() if line.strip()]
        problems.append({
            "file": path, "kind": "import error",
            "message": "in namespace %r: %s" % (TEST_NAMESPACE, lines[-1] if lines else ""), "detail": str(trace),
        })
    for dag_id, dag in sorted(bag.dags.items()):
        if dag_id in other.dags:
            problems.append({
                "file": dag.fileloc, "kind": "namespace collision",
                "message": "DAG id %r is the same in the plain deploy and in namespace %r, so two namespaces on "
                "one Airflow would collide: write dag_id=pad_runtime.dag_id(%r)" % (dag_id, TEST_NAMESPACE, dag_id),
                "detail": "",
            })
    problems.extend(static_problems(folder))
    report = {"airflow_version": airflow.__version__, "dags": dags, "problems": problems}
    with open(out, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
    # The report is written and closed: skip the interpreter's teardown (Airflow 3's
    # exit handlers and the finalising of a thousand modules, 0.9 s of a 3.3 s check).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
