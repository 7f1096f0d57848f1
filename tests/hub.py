"""A loopback server in the Hugging Face Hub's URL layout, for the pull tests.

It answers the requests ``huggingface_hub`` makes to download a file:

- ``GET /api/models/{owner}/{name}[/revision/{rev}]``: the repository and its files
  (``siblings``, with sizes and Git LFS sha256 when ``?blobs=true``);
- ``HEAD /{owner}/{name}/resolve/{rev}/{file}``: ``X-Repo-Commit``, ``ETag`` and
  ``X-Linked-Etag`` (the file's sha256, as for an LFS file), ``X-Linked-Size``;
- ``GET`` of the same: the bytes, honouring ``Range: bytes=N-`` with a 206.

Unknown repositories and files get the Hub's error codes (``X-Error-Code``). Faults
for the tests: cut one download's connection once the file's bytes reach an offset
(and answer 503 to downloads from then on, if asked), serve wrong bytes under the
right checksum (``corrupt``).
Every request is recorded with its ``Range`` header.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    range: str | None


@dataclass
class HubFile:
    path: Path
    size: int
    sha256: str


@dataclass
class FakeHub:
    repos: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    cut_after: int | None = None  # cut the next download once the file's bytes reach this
    then_down: bool = False  # after that cut, downloads answer 503 (until ``down`` is reset)
    down: bool = False  # downloads answer 503
    corrupt: bool = False  # serve the file with some bytes changed (checksum unchanged)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def add(self, repo: str, name: str, path: Path) -> HubFile:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        entry = HubFile(path, path.stat().st_size, digest.hexdigest())
        self.repos.setdefault(repo, {})[name] = entry
        return entry

    def downloads(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "GET" and "/resolve/" in s.path]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, "GET")

            def do_HEAD(self) -> None:
                hub._handle(self, "HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- requests -----------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path = unquote(parts.path)
        self.seen.append(Seen(method, path, req.headers.get("Range")))
        segments = path.strip("/").split("/")
        if segments[:2] == ["api", "models"] and method == "GET":
            repo = "/".join(segments[2:4])
            rest = segments[4:]
            if rest and rest[:1] != ["revision"]:
                return _error(req, 404, "EntryNotFound", "unknown endpoint")
            return self._info(req, repo, blobs="blobs=" in parts.query)
        if len(segments) >= 5 and segments[2] == "resolve":
            repo, rev, name = "/".join(segments[:2]), segments[3], "/".join(segments[4:])
            return self._file(req, method, repo, rev, name)
        _error(req, 404, "EntryNotFound", "not found")

    def _info(self, req: BaseHTTPRequestHandler, repo: str, *, blobs: bool) -> None:
        files = self.repos.get(repo)
        if files is None:
            return _error(req, 401, "RepoNotFound", "Repository not found")
        siblings = []
        for name, f in files.items():
            entry: dict[str, object] = {"rfilename": name}
            if blobs:
                entry |= {
                    "size": f.size,
                    "blobId": "0" * 40,
                    "lfs": {"size": f.size, "sha256": f.sha256, "pointerSize": 134},
                }
            siblings.append(entry)
        body = {"_id": "x", "id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                "tags": ["gguf"], "siblings": siblings}  # fmt: skip
        _send(req, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _file(self, req: BaseHTTPRequestHandler, method: str, repo: str, rev: str,
              name: str) -> None:  # fmt: skip
        files = self.repos.get(repo)
        if files is None:
            return _error(req, 401, "RepoNotFound", "Repository not found")
        if rev not in ("main", COMMIT):
            return _error(req, 404, "RevisionNotFound", "Invalid rev id")
        f = files.get(name)
        if f is None:
            return _error(req, 404, "EntryNotFound", "Entry not found")
        headers = {
            "X-Repo-Commit": COMMIT,
            "ETag": f'"{f.sha256}"',
            "X-Linked-Etag": f'"{f.sha256}"',
            "X-Linked-Size": str(f.size),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if method == "HEAD":
            req.send_response(200)
            for key, value in {**headers, "Content-Length": str(f.size)}.items():
                req.send_header(key, value)
            req.end_headers()
            return
        if self.down:
            return _error(req, 503, "", "Service unavailable")
        start = 0
        asked = req.headers.get("Range")
        if asked and asked.startswith("bytes=") and asked.endswith("-"):
            start = int(asked[6:-1])
        length = f.size - start
        req.send_response(206 if start else 200)
        for key, value in headers.items():
            req.send_header(key, value)
        if start:
            req.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
        req.send_header("Content-Length", str(length))
        req.end_headers()
        self._body(req, f, start)

    def _body(self, req: BaseHTTPRequestHandler, f: HubFile, start: int) -> None:
        stop = f.size if self.cut_after is None else max(start, min(f.size, self.cut_after))
        with f.path.open("rb") as src:
            src.seek(start)
            at = start
            while at < stop:
                chunk = src.read(min(1 << 20, stop - at))
                if not chunk:
                    break
                if self.corrupt and at == start:
                    chunk = bytes(b ^ 0xFF for b in chunk[:64]) + chunk[64:]
                req.wfile.write(chunk)
                at += len(chunk)
        req.wfile.flush()
        if stop < f.size:  # the connection is cut mid-file
            self.cut_after = None
            self.down = self.then_down
            req.close_connection = True
            req.connection.shutdown(socket.SHUT_RDWR)


def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    req.send_response(status)
    for key, value in headers.items():
        req.send_header(key, value)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def _error(req: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
    headers = {"Content-Type": "application/json", "X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    _send(req, status, json.dumps({"error": message}).encode(), headers)
