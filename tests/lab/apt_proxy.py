#!/usr/bin/python3
"""The lab's package proxy: fresh nodes (no default route) get Debian's packages through it.

    apt_proxy.py ADDRESS PORT CACHE_DIR

A forwarding HTTP proxy for apt (GET and HEAD of absolute http:// URLs, Debian's
mirror only) that keeps what never changes under one name: .deb files and
by-hash index files, in CACHE_DIR. A second lab's nodes get those from the
cache; Release files and the like are fetched every time (they are small).
Started by `tests/lab/lab up --fresh N`, ended by `down`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The hosts of /etc/apt/sources.list.d/debian.sources; nothing else is forwarded.
ALLOWED_HOSTS = ("deb.debian.org", "security.debian.org")
CHUNK = 1 << 16


def immutable(path):
    return path.endswith(".deb") or "/by-hash/" in path


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cache_dir: Path

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.forward(send_body=True)

    def do_HEAD(self):  # noqa: N802
        self.forward(send_body=False)

    def forward(self, send_body):
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname not in ALLOWED_HOSTS:
            self.send_error(403, "only Debian's mirror")
            return
        digest = hashlib.sha256(self.path.encode()).hexdigest()
        cached = self.cache_dir / digest[:2] / f"{digest}-{Path(url.path).name}"
        if immutable(url.path) and cached.exists():
            self.reply_file(cached, send_body)
            return
        try:
            upstream = urllib.request.urlopen(  # noqa: S310 (http only, allowed hosts only)
                urllib.request.Request(self.path, method="GET" if send_body else "HEAD"), timeout=60)
        except urllib.error.HTTPError as exc:
            self.send_error(exc.code, exc.reason)
            return
        except OSError as exc:
            self.send_error(502, str(exc))
            return
        with upstream:
            if send_body and immutable(url.path):
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_name(cached.name + f".{os.getpid()}.{id(self)}.tmp")
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(upstream, out, CHUNK)
                tmp.replace(cached)
                self.reply_file(cached, send_body)
                return
            self.send_response(upstream.status)
            for name in ("Content-Type", "Content-Length", "Last-Modified", "ETag"):
                if upstream.headers.get(name):
                    self.send_header(name, upstream.headers[name])
            self.end_headers()
            if send_body:
                shutil.copyfileobj(upstream, self.wfile, CHUNK)

    def reply_file(self, path, send_body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        if send_body:
            with open(path, "rb") as data:
                shutil.copyfileobj(data, self.wfile, CHUNK)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main(argv):
    address, port, cache_dir = argv[1], int(argv[2]), Path(argv[3])
    cache_dir.mkdir(parents=True, exist_ok=True)
    Handler.cache_dir = cache_dir
    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
