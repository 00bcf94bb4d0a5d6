"""A WebHDFS contract server for the artifact cache tests (no real HDFS can run here).

It implements the documented WebHDFS REST calls the cache uses, as Hadoop describes them
(https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/WebHDFS.html):

- the namenode (``--port``) answers ``GETFILESTATUS``, ``MKDIRS``, ``RENAME``, ``DELETE``,
  ``LISTSTATUS`` and ``LISTSTATUS_BATCH`` itself, and redirects ``CREATE`` and ``OPEN`` to the datanode:
  ``307 Temporary Redirect`` with a ``Location`` header, or, with ``noredirect=true``,
  ``200`` and ``{"Location": ...}``. A ``CREATE`` sent to the namenode carries no data.
- the datanode (``--datanode-port``) takes the data of ``CREATE`` (``Content-Length`` or
  chunked) and answers ``201 Created``, and serves ``OPEN``.
- errors are ``{"RemoteException": {"exception", "javaClassName", "message"}}`` with
  404 (FileNotFoundException), 403 (FileAlreadyExistsException, AccessControlException,
  SecurityException: Hadoop's ExceptionHandler maps SecurityException and every other
  IOException to 403) or 400 (IllegalArgumentException), as Hadoop sends them. ``RENAME``
  answers ``{"boolean": false}`` when the source is missing or the destination exists.
- ``CREATE`` makes missing parent directories, as HDFS does.

As HDFS writes (the behaviours the cache's own protocol must cope with):

- The namenode's step of ``CREATE`` only picks a datanode and redirects; it checks
  neither permissions nor whether the file exists. Both are checked when the datanode
  creates the file through the namenode (``ClientProtocol.create``), so a
  ``FileAlreadyExistsException`` (``overwrite=false``) or an ``AccessControlException``
  comes back from the datanode, in step two.
- The file is at its path from the moment the datanode creates it: a reader sees it
  growing while it is written, and an upload that breaks off leaves what was written
  (HDFS recovers the lease and closes the file at its last length). Nothing is written
  under a temporary name and renamed.

Users, as an insecure (simple authentication) cluster has them: the caller is
``user.name`` when given, else the user of a ``delegation`` token (``--delegation
TOKEN=USER``; an unknown token is a 403 SecurityException), else ``dr.who``
(``hadoop.http.staticuser.user``'s default). Everything under ``--data`` belongs to
``--owner`` (default ``airflow``) with mode 755/644, so only the owner, or the superuser
``hdfs``, may create, make directories, rename or delete; anyone may read.

Files live under ``--data``. Every request is logged on stdout as
``<role> METHOD /path op=OP STATUS``.
"""

import argparse
import json
import os
import shutil
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from http_log import Server, log_line

PREFIX = "/webhdfs/v1"
SUPERUSER = "hdfs"
# The owner of every file, set from --owner (file_status reads it).
OWNER = ["airflow"]


def remote_exception(exception, java_class, message):
    return {"RemoteException": {"exception": exception, "javaClassName": java_class, "message": message}}


class State:
    def __init__(self, data, namenode_port, datanode_port, owner, tokens):
        self.data = data
        self.namenode_port = namenode_port
        self.datanode_port = datanode_port
        self.owner = owner
        self.tokens = tokens  # {delegation token: user}
        self.lock = threading.Lock()

    def local(self, hdfs_path):
        parts = [p for p in hdfs_path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError("bad path")
        return os.path.join(self.data, *parts)


def file_status(local, suffix=""):
    st = os.stat(local)
    is_dir = os.path.isdir(local)
    return {
        "accessTime": int(st.st_atime * 1000),
        "blockSize": 0 if is_dir else 134217728,
        "childrenNum": len(os.listdir(local)) if is_dir else 0,
        "fileId": st.st_ino,
        "group": "supergroup",
        "length": 0 if is_dir else st.st_size,
        "modificationTime": int(st.st_mtime * 1000),
        "owner": OWNER[0],
        "pathSuffix": suffix,
        "permission": "755" if is_dir else "644",
        "replication": 0 if is_dir else 3,
        "storagePolicy": 0,
        "type": "DIRECTORY" if is_dir else "FILE",
    }


def make_handler(state, role):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def log(self, op, status):
            log_line(f"{role} {self.command} {urllib.parse.urlsplit(self.path).path} op={op} {status}")

        def send_json(self, status, body, op, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.log(op, status)

        def parse(self):
            split = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            path = urllib.parse.unquote(split.path)
            if not path.startswith(PREFIX):
                return None, query
            return path[len(PREFIX):] or "/", query

        def read_body(self):
            """The request body, from Content-Length or chunked transfer coding."""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    line = self.rfile.readline().strip()
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline().strip():
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length", "0") or 0)
            return self.rfile.read(length) if length else b""

        def write_body_to(self, target):
            """Streams the request body into a file; False if it broke off."""
            expected = self.headers.get("Content-Length")
            got = 0
            with open(target, "wb") as out:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            return False
                        size = int(line.strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            return True
                        remaining = size
                        while remaining:
                            block = self.rfile.read(min(remaining, 1 << 20))
                            if not block:
                                return False
                            out.write(block)
                            remaining -= len(block)
                        self.rfile.readline()
                length = int(expected or 0)
                while got < length:
                    block = self.rfile.read(min(length - got, 1 << 20))
                    if not block:
                        return False
                    out.write(block)
                    got += len(block)
            return True

        def caller(self, query, op):
            """The user the call acts as, or None after answering 403 for a bad token."""
            token = query.get("delegation")
            if token is not None and "user.name" not in query:
                user = state.tokens.get(token)
                if user is None:
                    self.send_json(
                        403,
                        remote_exception(
                            "SecurityException",
                            "java.lang.SecurityException",
                            "Failed to obtain user group information: "
                            "org.apache.hadoop.security.token.SecretManager$InvalidToken: "
                            "token can't be found in cache",
                        ),
                        op,
                    )
                    return None
                return user
            return query.get("user.name") or "dr.who"

        def may_write(self, user, path, op):
            """False after answering 403 when `user` may not write under `path`."""
            if user in (state.owner, SUPERUSER):
                return True
            parent = "/".join(path.rstrip("/").split("/")[:-1]) or "/"
            self.send_json(
                403,
                remote_exception(
                    "AccessControlException",
                    "org.apache.hadoop.security.AccessControlException",
                    f'Permission denied: user={user}, access=WRITE, inode="{parent}":{state.owner}:supergroup:drwxr-xr-x',
                ),
                op,
            )
            return False

        def redirect(self, path, query, op):
            target_query = {k: v for k, v in query.items() if k != "noredirect"}
            target_query["namenoderpcaddress"] = "127.0.0.1:8020"
            location = (
                f"http://127.0.0.1:{state.datanode_port}{PREFIX}{urllib.parse.quote(path)}?"
                + urllib.parse.urlencode(target_query)
            )
            # The namenode reads no data: a client that sent some anyway is refused it.
            if self.headers.get("Content-Length", "0") not in ("0", ""):
                self.read_body()
            if query.get("noredirect") == "true":
                self.send_json(200, {"Location": location}, op)
            else:
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.log(op, 307)

        def not_found(self, path, op):
            self.send_json(
                404,
                remote_exception("FileNotFoundException", "java.io.FileNotFoundException", f"File does not exist: {path}"),
                op,
            )

        def handle_any(self):
            path, query = self.parse()
            op = query.get("op", "").upper()
            if path is None:
                return self.send_json(404, {"error": "not a WebHDFS path"}, op)
            user = self.caller(query, op)
            if user is None:
                return None
            self.user = user
            try:
                local = state.local(path)
            except ValueError:
                return self.send_json(
                    400, remote_exception("IllegalArgumentException", "java.lang.IllegalArgumentException", "bad path"), op
                )
            if role == "datanode":
                return self.datanode(path, local, query, op)
            return self.namenode(path, local, query, op)

        def namenode(self, path, local, query, op):
            method = self.command
            if method == "GET" and op == "GETFILESTATUS":
                if not os.path.exists(local):
                    return self.not_found(path, op)
                return self.send_json(200, {"FileStatus": file_status(local)}, op)
            if method == "GET" and op == "LISTSTATUS":
                if not os.path.exists(local):
                    return self.not_found(path, op)
                if os.path.isdir(local):
                    entries = [file_status(os.path.join(local, n), n) for n in sorted(os.listdir(local))]
                else:
                    entries = [file_status(local)]
                return self.send_json(200, {"FileStatuses": {"FileStatus": entries}}, op)
            if method == "GET" and op == "LISTSTATUS_BATCH":
                # Hadoop 2.8+: a directory's entries in name order, at most dfs.ls.limit
                # (1000) at a time, from after startAfter; remainingEntries says how many
                # are left.
                if not os.path.exists(local):
                    return self.not_found(path, op)
                if not os.path.isdir(local):
                    entries = [file_status(local)]
                else:
                    names = sorted(os.listdir(local))
                    after = query.get("startAfter")
                    if after:
                        names = [n for n in names if n > after]
                    entries = [file_status(os.path.join(local, n), n) for n in names]
                batch, rest = entries[:1000], entries[1000:]
                listing = {"partialListing": {"FileStatuses": {"FileStatus": batch}}, "remainingEntries": len(rest)}
                return self.send_json(200, {"DirectoryListing": listing}, op)
            if method == "GET" and op == "OPEN":
                if not os.path.isfile(local):
                    return self.not_found(path, op)
                return self.redirect(path, query, op)
            if method == "PUT" and op in ("MKDIRS", "RENAME") and not self.may_write(self.user, path, op):
                return None
            if method == "DELETE" and op == "DELETE" and not self.may_write(self.user, path, op):
                return None
            if method == "PUT" and op == "MKDIRS":
                with state.lock:
                    if os.path.isfile(local):
                        return self.send_json(
                            403,
                            remote_exception(
                                "FileAlreadyExistsException",
                                "org.apache.hadoop.fs.FileAlreadyExistsException",
                                f"Path is not a directory: {path}",
                            ),
                            op,
                        )
                    os.makedirs(local, exist_ok=True)
                return self.send_json(200, {"boolean": True}, op)
            if method == "PUT" and op == "CREATE":
                # Step one only picks a datanode: no existence or permission check here.
                return self.redirect(path, query, op)
            if method == "PUT" and op == "RENAME":
                destination = query.get("destination", "")
                if not destination.startswith("/"):
                    return self.send_json(
                        400,
                        remote_exception(
                            "IllegalArgumentException",
                            "java.lang.IllegalArgumentException",
                            f"Invalid value for webhdfs parameter \"destination\": {destination}",
                        ),
                        op,
                    )
                target = state.local(destination)
                with state.lock:
                    if not os.path.exists(local) or os.path.exists(target) or not os.path.isdir(os.path.dirname(target)):
                        return self.send_json(200, {"boolean": False}, op)
                    os.rename(local, target)
                return self.send_json(200, {"boolean": True}, op)
            if method == "DELETE" and op == "DELETE":
                with state.lock:
                    if not os.path.exists(local):
                        return self.send_json(200, {"boolean": False}, op)
                    if os.path.isdir(local):
                        if os.listdir(local) and query.get("recursive") != "true":
                            return self.send_json(
                                403,
                                remote_exception(
                                    "PathIsNotEmptyDirectoryException",
                                    "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
                                    f"`{path} is non empty': Directory is not empty",
                                ),
                                op,
                            )
                        shutil.rmtree(local)
                    else:
                        os.remove(local)
                return self.send_json(200, {"boolean": True}, op)
            return self.send_json(
                400,
                remote_exception(
                    "IllegalArgumentException",
                    "java.lang.IllegalArgumentException",
                    f"Invalid value for webhdfs parameter \"op\": {op} is not a valid {method} operation",
                ),
                op,
            )

        def datanode(self, path, local, query, op):
            if self.command == "PUT" and op == "CREATE":
                # The datanode creates the file through the namenode, which checks the
                # caller's permission and, without overwrite=true, that it is new.
                if not self.may_write(self.user, path, op):
                    self.read_body()
                    return None
                with state.lock:
                    if os.path.exists(local) and query.get("overwrite", "false") != "true":
                        exists = True
                    else:
                        exists = False
                        os.makedirs(os.path.dirname(local), exist_ok=True)
                        open(local, "wb").close()
                if exists:
                    self.read_body()
                    return self.send_json(
                        403,
                        remote_exception(
                            "FileAlreadyExistsException",
                            "org.apache.hadoop.fs.FileAlreadyExistsException",
                            f"{path} for client 127.0.0.1 already exists",
                        ),
                        op,
                    )
                # Written in place: visible while it grows, and kept when the upload
                # breaks off (HDFS closes an abandoned file at its last length).
                complete = self.write_body_to(local)
                if not complete:
                    self.log(op, "aborted")
                    self.close_connection = True
                    return None
                self.send_response(201)
                self.send_header("Location", f"hdfs://127.0.0.1:8020{path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.log(op, 201)
                return None
            if self.command == "GET" and op == "OPEN":
                if not os.path.isfile(local):
                    return self.not_found(path, op)
                size = os.path.getsize(local)
                offset = int(query.get("offset", "0") or 0)
                length = int(query.get("length", str(size - offset)) or 0)
                length = max(0, min(length, size - offset))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                with open(local, "rb") as f:
                    f.seek(offset)
                    remaining = length
                    while remaining:
                        block = f.read(min(remaining, 1 << 20))
                        if not block:
                            break
                        self.wfile.write(block)
                        remaining -= len(block)
                self.log(op, 200)
                return None
            return self.send_json(
                400,
                remote_exception(
                    "IllegalArgumentException",
                    "java.lang.IllegalArgumentException",
                    f"the datanode does not take {self.command} {op}",
                ),
                op,
            )

        def do_GET(self):
            self.handle_any()

        def do_PUT(self):
            self.handle_any()

        def do_POST(self):
            self.handle_any()

        def do_DELETE(self):
            self.handle_any()

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the namenode's HTTP port")
    parser.add_argument("--datanode-port", type=int, required=True)
    parser.add_argument("--data", required=True, help="the directory that holds the file system")
    parser.add_argument("--owner", default="airflow", help="the user that owns the file system's files")
    parser.add_argument(
        "--delegation", action="append", default=[], metavar="TOKEN=USER", help="a delegation token and its user"
    )
    args = parser.parse_args()
    os.makedirs(args.data, exist_ok=True)
    OWNER[0] = args.owner
    tokens = dict(entry.split("=", 1) for entry in args.delegation)
    state = State(os.path.abspath(args.data), args.port, args.datanode_port, args.owner, tokens)
    datanode = Server(("127.0.0.1", args.datanode_port), make_handler(state, "datanode"))
    namenode = Server(("127.0.0.1", args.port), make_handler(state, "namenode"))
    threading.Thread(target=datanode.serve_forever, daemon=True).start()
    # The datanode first, so the namenode's port opening means both are up.
    time.sleep(0.05)
    log_line(f"webhdfs contract server: namenode 127.0.0.1:{args.port}, datanode 127.0.0.1:{args.datanode_port}")
    try:
        namenode.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
