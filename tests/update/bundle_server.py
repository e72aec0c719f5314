"""An HTTP server for bundles, as a release server or CDN would serve them: Range requests,
a strong ETag and If-Range; optionally a slow link (bytes per second) that drops every
connection after a number of bytes, as a village's mobile link does."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Link:
    bytes_per_s: float | None = None  # None: as fast as loopback goes
    drop_after: int | None = None  # close each connection after this many body bytes
    honour_range: bool = True


@dataclass
class Served:
    """What the server saw, for the tests' assertions."""

    requests: list[tuple[str, str | None, int]] = field(default_factory=list)  # path, Range, status
    body_bytes: int = 0


class BundleServer:
    def __init__(self, folder: Path, link: Link | None = None) -> None:
        self.folder = folder
        self.link = link or Link()
        self.served = Served()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> BundleServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = self.folder / request.path.lstrip("/")
        range_header = request.headers.get("Range")
        if not path.is_file():
            self.served.requests.append((request.path, range_header, 404))
            request.send_error(404)
            return
        data = path.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        start = 0
        match = _RANGE.match(range_header or "")
        if_range = request.headers.get("If-Range")
        if match and self.link.honour_range and (if_range is None or if_range == etag):
            start = int(match.group(1))
        if start >= len(data) and match and self.link.honour_range:
            self.served.requests.append((request.path, range_header, 416))
            request.send_response(416)
            request.send_header("Content-Range", f"bytes */{len(data)}")
            request.end_headers()
            return
        status = 206 if start else 200
        self.served.requests.append((request.path, range_header, status))
        request.send_response(status)
        request.send_header("ETag", etag)
        request.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            request.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        request.end_headers()
        self._send(request, data[start:])

    def _send(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        sent = 0
        chunk = 16 * 1024
        began = time.monotonic()
        try:
            while sent < len(body):
                if self.link.drop_after is not None and sent >= self.link.drop_after:
                    return  # the link drops: the connection closes with the body unfinished
                piece = body[sent:sent + chunk]
                if self.link.drop_after is not None:
                    piece = piece[:self.link.drop_after - sent]
                request.wfile.write(piece)
                sent += len(piece)
                self.served.body_bytes += len(piece)
                if self.link.bytes_per_s:
                    ahead = sent / self.link.bytes_per_s - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            request.close_connection = True
