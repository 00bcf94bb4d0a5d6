"""What every Python server of the test kit shares: its log, one whole line per request,
and a threading HTTP server that stays quiet when a client closes a kept-alive
connection.

The tests read a server's log line by line. `print()` writes its text and its newline
as two writes, so a line from one request thread could be split by another thread's
output (socketserver's traceback when a client hangs up), and a test reading
`GET /objects/3 200 no-token-----...` failed on a correct exchange.
"""

import sys
import threading
from http.server import ThreadingHTTPServer

_LOCK = threading.Lock()


def log_line(text, stream=None):
    """Writes `text` and its newline in one write, never interleaved with another line."""
    stream = stream or sys.stdout
    with _LOCK:
        stream.write(text + "\n")
        stream.flush()


class Server(ThreadingHTTPServer):
    """One thread per connection, ended with the process; a client closing its
    connection between requests is no error."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        with _LOCK:
            super().handle_error(request, client_address)
