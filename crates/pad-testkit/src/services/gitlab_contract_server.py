"""A contract-test stand-in for GitLab's generic packages API (GitLab itself cannot run here).

It implements exactly the documented behaviour pad-registry relies on, and nothing else:

- PUT  /api/v4/projects/:id/packages/generic/:name/:version/:file[?select=package_file]
  stores the body (streamed to disk), 201 {"message": "201 Created"}, or with
  select=package_file 200 and the package file record, including "file_sha256".
  400 "400 Bad request - Duplicate package is not allowed" when duplicates are disabled
  and the file name is already in the package; 400 "400 Bad request - File is too large"
  over the size limit; 401 without a valid token; 403 for a token without write access;
  404 "404 Project Not Found" for an unknown project.
- GET  the same path: the newest file of that name; from GitLab 18.6 on (--gitlab-version,
  default 18.6) with X-Checksum-SHA256, before that without it (the header came with
  gitlab-org/gitlab!210599, in 18.6); 404 for an unknown project (also what a private
  project looks like without a token), package or file; 401 for an invalid token.
- GET  /api/v4/projects/:id/packages?package_type=&package_name=&package_version=
  (package_name matches as a substring, as GitLab's does) and
  GET  /api/v4/projects/:id/packages/:package_id/package_files, paginated with
  per_page/page and X-Next-Page.
- DELETE /api/v4/projects/:id/packages/:package_id/package_files/:file_id: 204 for a
  Maintainer, 403 for anyone less (gitlab-org/gitlab!60970: "Without authorization to delete
  file ... 403 Forbidden"; deleting packages takes the Maintainer role in practice, see
  gitlab-org/gitlab#592019, whatever the user docs say about Developers).

Roles, as GitLab has them: each token is configured with an "access" of "read" (a
Reporter's personal or project access token, or a deploy token with
read_package_registry), "write" (a Developer: may publish, may not delete; a CI job token
acts with the role of the user who started the pipeline, so the test job token is a
Developer's) or "maintain" (a Maintainer: may also delete). A deploy token
(write_package_registry) may publish and download through the generic packages API only.

Tokens are accepted in PRIVATE-TOKEN, JOB-TOKEN or DEPLOY-TOKEN, each only in the header
of its kind; the packages API does not take deploy tokens ("Deploy tokens do not have access
to the GitLab API"), so there a deploy token counts as no token. Switches for failure tests: --fail-puts N answers the first N uploads with
500 (GitLab does so when concurrent first uploads race to create a package),
--corrupt-downloads flips a byte of every download (the header keeps the true sha256),
--no-duplicates, --max-file-size BYTES, and --stale-listing, which makes the packages API
list nothing, as it looks to a publisher when another one uploads the same file between
its check and its upload, and --direct-download, which answers downloads with a redirect
to "object storage" (this server under the name `localhost`: another origin) without the
X-Checksum-SHA256 header, as GitLab does when object storage direct download is on.

The log (stderr) has one line per request: method, path, status, and whether a token
header came with it (never the token).
"""

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from http_log import Server, log_line

CHUNK = 1024 * 1024
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
VERSION_RE = re.compile(r"^(?!.*\.\.)[\w+.-]+$")
FILE_RE = re.compile(r"^[A-Za-z0-9._+~@-]+$")
TOKEN_HEADERS = ("PRIVATE-TOKEN", "JOB-TOKEN", "DEPLOY-TOKEN")


class State:
    def __init__(self, args, config):
        self.lock = threading.Lock()
        self.data = args.data
        self.fail_puts = args.fail_puts
        self.corrupt = args.corrupt_downloads
        self.duplicates = not args.no_duplicates
        self.max_size = args.max_file_size
        self.stale_listing = args.stale_listing
        self.direct_download = args.direct_download
        self.port = args.port
        self.version = tuple(int(part) for part in args.gitlab_version.split(".")[:2])
        # {"42": "group/project"}: a project is found by id or by its path.
        self.projects = config["projects"]
        # {"token": {"header": "PRIVATE-TOKEN", "access": "write" | "read"}}
        self.tokens = config["tokens"]
        self.packages = []  # {id, project, name, version, created_at}
        self.files = []  # {id, package_id, file_name, size, file_sha256, path, created_at}
        self.next_id = 1

    def new_id(self):
        value = self.next_id
        self.next_id += 1
        return value

    def project(self, ident):
        ident = unquote(ident)
        if ident in self.projects:
            return ident
        for pid, path in self.projects.items():
            if path == ident:
                return pid
        return None


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitlab-contract"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def log_request(self, code="-", size="-"):
        path = urlsplit(self.path).path
        token = "token" if any(self.headers.get(h) is not None for h in TOKEN_HEADERS) else "no-token"
        log_line(f"{self.command} {path} {code} {token}", sys.stderr)

    # Responses.

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, val in headers:
            self.send_header(name, val)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, message):
        self.send_json(status, {"message": message})

    # Requests.

    def drain(self):
        """Reads whatever body the request has, so the client can read our answer."""
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def token_access(self, headers=TOKEN_HEADERS):
        """("ok", access) for a valid token, ("none", None) without one, ("bad", None)."""
        state = self.server.state
        for header in headers:
            value = self.headers.get(header)
            if value is None:
                continue
            token = state.tokens.get(value)
            if token is None or token["header"] != header:
                return "bad", None
            return "ok", token["access"]
        return "none", None

    def route(self):
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s != ""]
        if segments[:3] != ["api", "v4", "projects"] or len(segments) < 5:
            return None, None, None
        return segments[3], segments[4:], parse_qs(parts.query)

    def do_PUT(self):
        state = self.server.state
        project, rest, query = self.route()
        if project is None or rest[:2] != ["packages", "generic"] or len(rest) != 5:
            self.drain()
            return self.error(404, "404 Not Found")
        status, access = self.token_access()
        if status != "ok":
            self.drain()
            return self.error(401, "401 Unauthorized")
        pid = state.project(project)
        if pid is None:
            self.drain()
            return self.error(404, "404 Project Not Found")
        if access not in ("write", "maintain"):
            self.drain()
            return self.error(403, "403 Forbidden")
        name, version, file_name = (unquote(s) for s in rest[2:])
        for field, value, regex in (
            ("package_name", name, NAME_RE),
            ("package_version", version, VERSION_RE),
            ("file_name", file_name, FILE_RE),
        ):
            if not regex.match(value):
                self.drain()
                return self.send_json(400, {"error": f"{field} is invalid"})
        if self.headers.get("Content-Length") is None:
            return self.error(411, "411 Length Required")
        with state.lock:
            failing = state.fail_puts > 0
            if failing:
                state.fail_puts -= 1
        if failing:
            self.drain()
            return self.error(500, "500 Internal Server Error")
        # Stream the body to disk, hashing it.
        remaining = int(self.headers["Content-Length"])
        digest = hashlib.sha256()
        fd, path = tempfile.mkstemp(dir=state.data, prefix="upload-")
        size = 0
        with os.fdopen(fd, "wb") as out:
            while remaining > 0:
                chunk = self.rfile.read(min(CHUNK, remaining))
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                remaining -= len(chunk)
        if remaining > 0:
            os.unlink(path)
            return self.error(400, "400 Bad request - the upload was cut short")
        if state.max_size is not None and size > state.max_size:
            os.unlink(path)
            return self.error(400, "400 Bad request - File is too large")
        with state.lock:
            package = next(
                (p for p in state.packages if (p["project"], p["name"], p["version"]) == (pid, name, version)),
                None,
            )
            if package is not None and not state.duplicates:
                if any(f["package_id"] == package["id"] and f["file_name"] == file_name for f in state.files):
                    os.unlink(path)
                    return self.error(400, "400 Bad request - Duplicate package is not allowed")
            if package is None:
                package = {"id": state.new_id(), "project": pid, "name": name, "version": version, "created_at": now()}
                state.packages.append(package)
            record = {
                "id": state.new_id(),
                "package_id": package["id"],
                "file_name": file_name,
                "size": size,
                "file_sha256": digest.hexdigest(),
                "path": path,
                "created_at": now(),
            }
            state.files.append(record)
        if query.get("select") == ["package_file"]:
            return self.send_json(200, file_entity(record, full=True))
        return self.send_json(201, {"message": "201 Created"})

    def read_allowed(self):
        """Checks a read's token; sends the error and returns None when it fails."""
        # The packages API does not take deploy tokens: there they count as no token.
        _, rest, _ = self.route()
        generic = rest is not None and rest[:2] == ["packages", "generic"]
        status, _ = self.token_access(TOKEN_HEADERS if generic else ("PRIVATE-TOKEN", "JOB-TOKEN"))
        if status == "bad":
            self.error(401, "401 Unauthorized")
            return None
        project, rest, query = self.route()
        pid = self.server.state.project(project) if project else None
        # The test projects are private: without a token they do not exist.
        if pid is None or status == "none":
            self.error(404, "404 Project Not Found")
            return None
        return pid, rest, query

    def do_GET(self):
        state = self.server.state
        parts = urlsplit(self.path).path.split("/")
        if len(parts) == 3 and parts[1] == "objects":
            with state.lock:
                record = next((f for f in state.files if str(f["id"]) == parts[2]), None)
            if record is None:
                return self.error(404, "404 Not found")
            return self.send_file(record, headers=())
        allowed = self.read_allowed()
        if allowed is None:
            return
        pid, rest, query = allowed
        if rest == ["packages"]:
            return self.list_packages(pid, query)
        if len(rest) == 3 and rest[0] == "packages" and rest[2] == "package_files":
            return self.list_files(pid, rest[1], query)
        if rest[:2] != ["packages", "generic"] or len(rest) != 5:
            return self.error(404, "404 Not Found")
        name, version, file_name = (unquote(s) for s in rest[2:])
        with state.lock:
            package = next(
                (p for p in state.packages if (p["project"], p["name"], p["version"]) == (pid, name, version)),
                None,
            )
            if package is None:
                return self.error(404, "404 Package Not Found")
            files = [f for f in state.files if f["package_id"] == package["id"] and f["file_name"] == file_name]
        if not files:
            return self.error(404, "404 Not found")
        record = max(files, key=lambda f: f["id"])
        if state.direct_download:
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{state.port}/objects/{record['id']}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = [("X-Checksum-SHA256", record["file_sha256"])] if state.version >= (18, 6) else []
        self.send_file(record, headers=headers)

    def send_file(self, record, headers):
        state = self.server.state
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(record["size"]))
        self.send_header("Content-Disposition", f'attachment; filename="{record["file_name"]}"')
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        first = True
        with open(record["path"], "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                if first and state.corrupt:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                first = False
                self.wfile.write(chunk)

    def paginate(self, items, query):
        per_page = int(query.get("per_page", ["20"])[0])
        page = int(query.get("page", ["1"])[0])
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        headers = [("X-Page", str(page)), ("X-Per-Page", str(per_page)), ("X-Total", str(len(items)))]
        headers.append(("X-Next-Page", str(page + 1) if start + per_page < len(items) else ""))
        return chunk, headers

    def list_packages(self, pid, query):
        state = self.server.state
        name = query.get("package_name", [""])[0]
        version = query.get("package_version", [None])[0]
        kind = query.get("package_type", [None])[0]
        with state.lock:
            items = [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "version": p["version"],
                    "package_type": "generic",
                    "status": "default",
                    "created_at": p["created_at"],
                }
                for p in state.packages
                if p["project"] == pid
                and name in p["name"]
                and (version is None or p["version"] == version)
                and kind in (None, "generic")
                and not state.stale_listing
            ]
        chunk, headers = self.paginate(items, query)
        self.send_json(200, chunk, headers)

    def list_files(self, pid, package_id, query):
        state = self.server.state
        with state.lock:
            package = next((p for p in state.packages if str(p["id"]) == package_id and p["project"] == pid), None)
            if package is None:
                return self.error(404, "404 Not found")
            items = [file_entity(f) for f in state.files if f["package_id"] == package["id"]]
        chunk, headers = self.paginate(items, query)
        self.send_json(200, chunk, headers)

    def do_DELETE(self):
        state = self.server.state
        # The packages API: a deploy token counts as no token, and without one a private
        # project does not exist.
        status, access = self.token_access(("PRIVATE-TOKEN", "JOB-TOKEN"))
        if status == "bad":
            return self.error(401, "401 Unauthorized")
        project, rest, _ = self.route()
        pid = state.project(project) if project else None
        if pid is None or status == "none":
            return self.error(404, "404 Project Not Found")
        if len(rest) != 4 or rest[0] != "packages" or rest[2] != "package_files":
            return self.error(404, "404 Not Found")
        if access != "maintain":
            return self.error(403, "403 Forbidden")
        with state.lock:
            record = next(
                (f for f in state.files if str(f["id"]) == rest[3] and str(f["package_id"]) == rest[1]), None
            )
            if record is None:
                return self.error(404, "404 Not found")
            state.files.remove(record)
        os.unlink(record["path"])
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def file_entity(record, full=False):
    entity = {
        "id": record["id"],
        "package_id": record["package_id"],
        "created_at": record["created_at"],
        "file_name": record["file_name"],
        "size": record["size"],
        "file_md5": None,
        "file_sha1": None,
        "file_sha256": record["file_sha256"],
    }
    if full:
        entity.update({"updated_at": record["created_at"], "file_store": 1, "status": "default"})
    return entity


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="where uploads are stored")
    parser.add_argument("--config", required=True, help="JSON: {projects: {id: path}, tokens: {token: {header, access: read|write|maintain}}}")
    parser.add_argument("--fail-puts", type=int, default=0)
    parser.add_argument("--corrupt-downloads", action="store_true")
    parser.add_argument("--no-duplicates", action="store_true")
    parser.add_argument("--max-file-size", type=int)
    parser.add_argument("--stale-listing", action="store_true")
    parser.add_argument("--direct-download", action="store_true")
    parser.add_argument("--gitlab-version", default="18.6", help="the GitLab version to behave as (MAJOR.MINOR)")
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args, config)
    server.serve_forever()


if __name__ == "__main__":
    main()
