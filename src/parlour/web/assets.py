"""The page's static files: versioned, compressed and cached.

Every file is read once when the app is made. A hash of all of them names the
version, and the page asks for its files under ``/static/<version>/...``, which
are cached for a year (``immutable``): a repeat visit makes no request for
them. ES modules import each other by relative path, so their imports land
under the same prefix without any rewriting. The HTML itself (``/``) is always
revalidated (``no-cache`` with an ETag), so a new version is picked up on the
next visit. The files are also served at their plain paths (``/js/app.js``),
revalidated like the HTML, for anything that names them directly.

A page's entry module and the modules it imports are also served folded into one
file (``js/app.bundle.js`` for ``js/app.js``, see :mod:`parlour.web.bundle`), which the
page loads instead: one request instead of one per module. The libraries it imports
are preloaded beside it. Should the modules ever not fold, the page loads them one by
one, each named in a ``modulepreload`` link.

Text files are gzipped once, on their first request, in a worker thread. Only
these files are compressed: the reply streams never pass through here.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html as markup
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from parlour.web.bundle import bundle, libraries

PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = (".html", ".js", ".css", ".svg", ".json", ".txt", ".map")
MIN_COMPRESS_BYTES = 1024
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Relative imports between the page's modules: `from "./x.js"`, `import "../y.js"`.
IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*["'](\.{1,2}/[^"']+\.js)["']""")
# The page's own stylesheets (each on its line), joined into one.
STYLESHEET = re.compile(r'[ \t]*<link rel="stylesheet" href="(css/[^"]+\.css)">\n?')
# Attributes in index.html that name one of the files.
LOCAL_REF = re.compile(r"""\b(src|href)="((?:css|js|vendor)/[^"]+|favicon\.svg)\"""")


@dataclass
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def compressible(self) -> bool:
        return (
            self.media_type.split(";")[0].endswith(
                ("javascript", "css", "html", "svg+xml", "json", "plain")
            )
            and len(self.body) >= MIN_COMPRESS_BYTES
        )


def _media_type(path: Path) -> str:
    if path.suffix in TYPES:
        return TYPES[path.suffix]
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


class StaticAssets:
    """An ASGI app serving ``root``'s files (mounted at ``/``)."""

    def __init__(
        self, root: Path, meta: dict[str, str] | None = None, fetches: tuple[str, ...] = ()
    ) -> None:
        """``meta``: facts for the page, written into index.html as ``<meta name="parlour:…">``;
        ``fetches``: API URLs the page asks for at once, preloaded so they start with the HTML."""
        self.meta = meta or {}
        self.fetches = fetches
        self.files: dict[str, Asset] = {}
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            body = path.read_bytes()
            digest.update(rel.encode() + b"\0" + body + b"\0")
            self.files[rel] = Asset(body, _media_type(path), _etag(body))
        digest.update(repr(sorted(self.meta.items())).encode())
        self.version = digest.hexdigest()[:12]
        self.base = f"{PREFIX}{self.version}/"
        self.bundles: dict[str, str] = {}  # entry module -> its bundle's path
        self._bundle_all()
        # The pages: the chat, and the shared-conversation page (served at /s/TOKEN).
        for name, preloads in (("index.html", self.fetches), ("share.html", ())):
            if name in self.files:
                html = self.page(self.files[name].body.decode("utf-8"), preloads)
                self.files[name] = Asset(
                    html.encode(), "text/html; charset=utf-8", _etag(html.encode())
                )

    # --- the HTML ---------------------------------------------------------------

    def _bundle_all(self) -> None:
        entries = {
            m
            for name in ("index.html", "share.html")
            if name in self.files
            for m in re.findall(
                r'<script type="module" src="([^"]+)"', self.files[name].body.decode()
            )
        }
        sources = {
            rel: a.body.decode("utf-8", "replace")
            for rel, a in self.files.items()
            if rel.endswith(".js")
        }
        for entry in sorted(entries):
            folded = bundle(sources, entry) if entry in sources else None
            if folded is None:
                continue
            name = entry.removesuffix(".js") + ".bundle.js"
            body = folded.encode()
            self.files[name] = Asset(body, TYPES[".js"], _etag(body))
            self.bundles[entry] = name

    def modules(self, entry: str) -> list[str]:
        """The ES modules `entry` imports, directly or not (for preload hints)."""
        seen: list[str] = []
        todo = [entry]
        while todo:
            rel = todo.pop()
            if rel in seen or rel not in self.files:
                continue
            seen.append(rel)
            source = self.files[rel].body.decode("utf-8", "replace")
            folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
            for spec in IMPORT.findall(source):
                parts = [p for p in folder.split("/") if p]
                for piece in spec.split("/"):
                    if piece == "..":
                        if parts:
                            parts.pop()
                    elif piece != ".":
                        parts.append(piece)
                todo.append("/".join(parts))
        return seen

    def _one_stylesheet(self, html: str) -> str:
        """The page's own stylesheets, in order, as one file (one request instead of
        several; they name no other file, so joining them changes nothing else)."""
        links = list(STYLESHEET.finditer(html))
        refs = [m.group(1) for m in links]
        if len(refs) < 2 or not all(r in self.files for r in refs):
            return html
        name = "css/" + "+".join(r.removeprefix("css/").removesuffix(".css") for r in refs) + ".css"
        if name not in self.files:
            body = b"\n".join(self.files[r].body for r in refs)
            self.files[name] = Asset(body, TYPES[".css"], _etag(body))
        for link in reversed(links[1:]):
            html = html[: link.start()] + html[link.end() :]
        return html.replace(links[0].group(0), f'  <link rel="stylesheet" href="{name}">\n', 1)

    @staticmethod
    def _join(folder: str, spec: str) -> str:
        parts = [p for p in folder.split("/") if p]
        for piece in spec.split("/"):
            if piece == "..":
                if parts:
                    parts.pop()
            elif piece != ".":
                parts.append(piece)
        return "/".join(parts)

    def page(self, html: str, fetches: tuple[str, ...] = ()) -> str:
        """A page with its files under the versioned prefix, its modules (and ``fetches``)
        preloaded."""

        def versioned(match: re.Match[str]) -> str:
            attr, ref = match.group(1), match.group(2)
            return f'{attr}="{self.base}{ref}"' if ref in self.files else match.group(0)

        html = self._one_stylesheet(html)
        html = LOCAL_REF.sub(versioned, html)
        facts = "".join(
            f'<meta name="parlour:{markup.escape(k)}" content="{markup.escape(v)}">\n  '
            for k, v in self.meta.items()
        )
        html = html.replace("<title>", facts + "<title>", 1)
        entry = re.search(r'<script type="module" src="' + re.escape(self.base) + r'([^"]+)"', html)
        if entry:
            folded = self.bundles.get(entry.group(1))
            if folded:  # the bundle instead of the entry; its libraries beside it
                html = html.replace(f'src="{self.base}{entry.group(1)}"',
                                    f'src="{self.base}{folded}"', 1)  # fmt: skip
                folder = folded.rsplit("/", 1)[0]
                wanted = [self._join(folder, spec)
                          for spec in libraries(self.files[folded].body.decode())]  # fmt: skip
            else:
                wanted = self.modules(entry.group(1))[1:]
            preload = "".join(
                f'  <link rel="modulepreload" href="{self.base}{rel}">\n' for rel in wanted
            )
            preload += "".join(
                f'  <link rel="preload" as="fetch" crossorigin="anonymous" href="{url}">\n'
                for url in map(markup.escape, fetches)
            )
            html = html.replace("</head>", preload + "</head>", 1)
        return html

    # --- serving -----------------------------------------------------------------

    def lookup(self, path: str) -> tuple[Asset, bool] | None:
        """The file for a URL path, and whether it may be cached for good."""
        if path.startswith(PREFIX):
            version, _, rel = path[len(PREFIX) :].partition("/")
            asset = self.files.get(rel)
            if asset is None or rel in ("index.html", "share.html"):
                return None
            # An older page asking for its version gets today's file, but not for keeps.
            return asset, version == self.version
        rel = path.lstrip("/") or "index.html"
        asset = self.files.get(rel)
        return (asset, False) if asset else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        found = self.lookup(scope["path"])
        if found is None:
            raise HTTPException(404)
        asset, forever = found
        request = Headers(scope=scope)
        gzip_ok = asset.compressible and "gzip" in request.get("accept-encoding", "").lower()
        etag = asset.etag[:-1] + '-gz"' if gzip_ok else asset.etag
        headers = {
            "Cache-Control": IMMUTABLE if forever else REVALIDATE,
            "ETag": etag,
            "Vary": "Accept-Encoding",
        }
        if etag in [t.strip() for t in request.get("if-none-match", "").split(",")]:
            await Response(status_code=304, headers=headers)(scope, receive, send)
            return
        body = asset.body
        if gzip_ok:
            if asset.gzipped is None:
                asset.gzipped = await anyio.to_thread.run_sync(
                    functools.partial(gzip.compress, asset.body, compresslevel=9, mtime=0)
                )
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        if scope["method"] == "HEAD":
            headers["Content-Length"] = str(len(body))
            body = b""
        await Response(body, media_type=asset.media_type, headers=headers)(scope, receive, send)
