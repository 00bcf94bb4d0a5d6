"""A hostile HTTP server for the secrets tests: it answers every request with one status
(``--status``, such as 401, 403 or 500) and a body that quotes the request back, its
line (path and query) and every header, credentials included, as some proxies and
misconfigured servers do.

The body takes turns between the shapes error parsers look for: a JSON object with a
``message`` (GitLab's errors), an HTML page whose ``<title>`` holds the echo, and plain
text; in each, the echo comes first and is followed by filler, so it is long.

Every request is logged on stdout as ``METHOD /path STATUS``.
"""

import argparse
import html
import itertools
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from http_log import Server, log_line


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", type=int, required=True)
    args = parser.parse_args()
    turns = itertools.count()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def answer(self):
            # Read (and drop) a request body, so the client is not cut off mid-upload.
            length = int(self.headers.get("Content-Length") or 0)
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)
            echo = f"{self.command} {self.path} | " + " | ".join(f"{k}: {v}" for k, v in self.headers.items())
            filler = " (the request above was refused)" * 20
            with lock:
                turn = next(turns) % 3
            if turn == 0:
                content_type = "application/json"
                body = json.dumps({"message": echo + filler, "error": echo})
            elif turn == 1:
                content_type = "text/html"
                body = f"<html><head><title>{html.escape(echo)}</title></head><body>{filler}</body></html>"
            else:
                content_type = "text/plain"
                body = echo + filler
            data = body.encode()
            self.send_response(args.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if args.status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="echo"')
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            log_line(f"{self.command} {urllib.parse.urlsplit(self.path).path} {args.status}")

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = answer
        do_MKCOL = do_MOVE = do_COPY = do_PROPFIND = answer

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
