"""pad_runtime: what a DAG file needs to know about the release it ships in.

Shipped by the platform-airflow-dags toolchain in every release, next to the DAGs
(``dags/pad_runtime.py``); the standard library only, for every Python and
scheduler version the DAGs run on. Use it from a DAG file::

    import pad_runtime as pad

    with DAG(dag_id=pad.dag_id("image_matching"), ...):
        out = pad.data_path("image-matching", "results", "{{ ds }}")
        python = pad.python("image-matching")

Everything is worked out for the file that asks, from where that file lives:

- in a deployed release (``<release>/dags/...``), from the release's
  ``.pad-release/runtime.json`` and ``.pad-release/info``, written by the deploy (the
  plain deploy of a target without ``data_root`` uses ``$AIRFLOW_HOME/data/prod``);
- anywhere else (a checkout, the DAG check), from the environment: ``PAD_NAMESPACE``
  (default: the plain deploy), ``PAD_DATA_ROOT`` (default:
  ``$AIRFLOW_HOME/data/<namespace>``) and ``PAD_DATA_PROFILE``.

So DAG files of several namespaces can be parsed in one process, whichever copy of this
module was imported first.

Names: ``namespace`` (``"prod"`` for the plain deploy), ``plain``, ``release_id``,
``version``, ``commit``, ``data_profile``, ``data_root``, ``release_dir``;
``dag_id(base)``, ``data_path(project, *parts)``, ``fixture_path(project, *parts)``,
``artifact(project, name)``, ``project_dir(project)``, ``python(project)``.
"""

from __future__ import annotations

import json
import os
import sys

# The lower-case names are read per DAG file through the module's __getattr__ (PEP 562),
# which pyflakes cannot see: hence the noqa marks.
__all__ = [
    "PLAIN",
    "artifact",
    "commit",  # noqa: F822
    "dag_id",
    "data_path",
    "data_profile",  # noqa: F822
    "data_root",  # noqa: F822
    "fixture_path",
    "namespace",  # noqa: F822
    "plain",  # noqa: F822
    "project_dir",
    "python",
    "release_dir",  # noqa: F822
    "release_id",  # noqa: F822
    "version",  # noqa: F822
]

#: The plain (production) deploy's name where a namespace name is needed.
PLAIN = "prod"

_META = ".pad-release"
_CONTEXTS = {}
_FIELDS = ("namespace", "plain", "release_id", "version", "commit", "data_profile", "data_root", "release_dir")


class _Context:
    def __init__(self, release_dir, runtime, info, deployed):
        self.release_dir = release_dir
        self.deployed = deployed
        self.namespace = runtime.get("namespace") or PLAIN
        self.plain = self.namespace == PLAIN
        self.data_root = runtime.get("data_root")
        if not self.data_root and deployed and self.plain:
            # A plain release of a target without data_root: <AIRFLOW_HOME>/data/prod,
            # AIRFLOW_HOME being where releases/<id> lies.
            home = os.path.dirname(os.path.dirname(release_dir))
            self.data_root = os.path.join(home, "data", PLAIN)
        self.data_profile = runtime.get("data_profile") or None
        self.artifacts = runtime.get("artifacts") or {}
        self.release_id = os.path.basename(release_dir) if deployed else "dev"
        self.version = info.get("version") or "dev"
        self.commit = info.get("commit") or None


def _caller_file():
    frame = sys._getframe(1)
    while frame is not None:
        g = frame.f_globals
        name = g.get("__name__", "")
        if g is not globals() and not name.startswith("importlib") and g.get("__file__"):
            return g["__file__"]
        frame = frame.f_back
    return None


def _read_info(path):
    info = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition("=")
                if sep:
                    info[key] = value
    except OSError:
        pass
    return info


def _from_env(release_dir):
    ns = os.environ.get("PAD_NAMESPACE") or PLAIN
    root = os.environ.get("PAD_DATA_ROOT")
    if not root:
        home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        root = os.path.join(os.path.abspath(home), "data", ns)
    runtime = {"namespace": ns, "data_root": root, "data_profile": os.environ.get("PAD_DATA_PROFILE")}
    return _Context(release_dir, runtime, {"version": os.environ.get("PAD_VERSION")}, deployed=False)


def _context(path=None):
    path = path or _caller_file() or os.getcwd()
    here = os.path.dirname(os.path.realpath(path))
    d = here
    while True:
        if os.path.isfile(os.path.join(d, _META, "runtime.json")):
            break
        parent = os.path.dirname(d)
        if parent == d:
            d = None
            break
        d = parent
    key = d or ("env", here, os.environ.get("PAD_NAMESPACE"), os.environ.get("PAD_DATA_ROOT"),
                os.environ.get("PAD_DATA_PROFILE"))
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        if d is not None:
            with open(os.path.join(d, _META, "runtime.json"), encoding="utf-8") as f:
                runtime = json.load(f)
            ctx = _Context(d, runtime, _read_info(os.path.join(d, _META, "info")), deployed=True)
        else:
            # A checkout: the DAG file is in <repo>/dags/..., its projects in <repo>/projects.
            top = here
            while os.path.basename(top) != "dags" and os.path.dirname(top) != top:
                top = os.path.dirname(top)
            ctx = _from_env(os.path.dirname(top) if os.path.basename(top) == "dags" else here)
        _CONTEXTS[key] = ctx
    return ctx


def __getattr__(name):
    if name in _FIELDS:
        return getattr(_context(), name)
    raise AttributeError("module 'pad_runtime' has no attribute %r" % name)


def _check_project(project):
    if not project or "/" in project or project in (".", ".."):
        raise ValueError("pad_runtime: %r is not a project name (the folder name under projects/)" % (project,))


def _check_parts(parts):
    for part in parts:
        p = str(part)
        if os.path.isabs(p) or ".." in p.replace("\\", "/").split("/"):
            raise ValueError("pad_runtime: %r would leave the data root; give parts relative to it" % (p,))


def dag_id(base):
    """``base`` in the plain deploy, ``base__<namespace>`` in any other, so ids never collide."""
    ctx = _context()
    return base if ctx.plain else "%s__%s" % (base, ctx.namespace)


def data_path(project, *parts):
    """Where ``project`` reads and writes ``parts`` in this namespace's data root.

    With a data profile, an input the project ships as a fixture
    (``projects/<project>/fixtures/<profile>/<parts>``) is found there instead.
    """
    _check_project(project)
    _check_parts(parts)
    ctx = _context()
    if ctx.data_profile:
        fixture = os.path.join(ctx.release_dir, "projects", project, "fixtures", ctx.data_profile, *map(str, parts))
        if parts and os.path.exists(fixture):
            return fixture
    if not ctx.data_root:
        raise RuntimeError(
            "pad_runtime: the deploy target sets no data_root; add `data_root = \"/srv/data/${namespace}\"` "
            "to its deploy/<target>.toml"
        )
    return os.path.join(ctx.data_root, project, *map(str, parts))


def fixture_path(project, *parts):
    """The fixture ``parts`` of ``project`` under the data profile (``None`` without one)."""
    _check_project(project)
    _check_parts(parts)
    ctx = _context()
    if not ctx.data_profile:
        return None
    return os.path.join(ctx.release_dir, "projects", project, "fixtures", ctx.data_profile, *map(str, parts))


def project_dir(project):
    """This release's copy of ``project`` (its code, and its environment in ``venv/``)."""
    _check_project(project)
    return os.path.join(_context().release_dir, "projects", project)


def python(project):
    """The interpreter of ``project``'s environment in this release."""
    return os.path.join(project_dir(project), "venv", "bin", "python")


def artifact(project, name):
    """Where this release's copy of an artifact of ``project`` is: an artifact of its
    ``artifacts.yaml`` in the target's artifact cache (a path the workers mount, else
    the cache's URL, such as ``s3://...``), or a file the release ships, such as its
    ``venv.tar.gz`` (for Spark's ``--archives <path>#venv``), pinned to the release and
    so to the commit."""
    _check_project(project)
    _check_parts((name,))
    ctx = _context()
    cached = ctx.artifacts.get(project, {}).get(name)
    if cached:
        return cached
    path = os.path.join(project_dir(project), name)
    if ctx.deployed and not os.path.exists(path):
        raise LookupError(
            "pad_runtime: release %s has no artifact %r of project %r: list it in "
            "projects/%s/artifacts.yaml, or ship the file with the project" % (ctx.release_id, name, project, project)
        )
    return path
