"""The page's own ES modules folded into one file, so a first visit fetches them in one
request instead of one each (over HTTP/1.1's six connections a page of fifty modules
is nine round trips; on a slow link each costs hundreds of milliseconds).

Each module becomes a function run once, in the order the browser would run the
modules (depth first, in import order), that returns its exports as getters (so a
later assignment inside it is still seen); an import becomes a destructuring of the
module's exports. The libraries under ``vendor/`` stay modules of their own, imported
at the top of the bundle (the browser caches them apart, and they change less).

Only the forms the page uses are understood: ``import {a, b as c} from``, ``import
x from`` and ``import * as x from`` (a library), ``import "./x.js"``, ``export
function|class|const|let name``, ``export {a, b as c}`` (with or without ``from``).
Anything else - ``export default`` of our own, a cycle, a destructuring export, an
import left over - makes :func:`bundle` return None, and the page is served as
separate modules, as before: correct either way, only slower.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_SPEC = r"""["']([^"']+)["']"""
_IMPORT = re.compile(
    r"^import\s+(?:(?P<what>\{[^}]*\}|\*\s+as\s+[\w$]+|[\w$]+(?:\s*,\s*\{[^}]*\})?)\s+from\s+)?"
    + _SPEC + r"\s*;?[ \t]*$",
    re.MULTILINE,
)  # fmt: skip
_REEXPORT = re.compile(r"^export\s*\{(?P<names>[^}]*)\}\s*from\s*" + _SPEC + r"\s*;?", re.M)
_EXPORT_LIST = re.compile(r"^export\s*\{(?P<names>[^}]*)\}\s*;?", re.MULTILINE)
_EXPORT_DECL = re.compile(
    r"^export\s+(?P<decl>(?:async\s+)?function\s*\*?\s*|class\s+|const\s+|let\s+|var\s+)"
    r"(?P<name>[\w$]+)",
    re.MULTILINE,
)
_LEFT = re.compile(r"""^(import(\s+|\s*[{*"'])|export\b)""", re.MULTILINE)
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


class _Unbundlable(Exception):
    pass


def _resolve(folder: str, spec: str) -> str:
    parts = [p for p in folder.split("/") if p]
    for piece in spec.split("/"):
        if piece == "..":
            if not parts:
                raise _Unbundlable(spec)
            parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)


def _pairs(names: str) -> list[tuple[str, str]]:
    """``a, b as c`` -> [(a, a), (b, c)]: (name there, name here)."""
    out = []
    for item in _COMMENT.sub("", names).split(","):
        words = item.split()
        if not words:
            continue
        if len(words) == 1:
            out.append((words[0], words[0]))
        elif len(words) == 3 and words[1] == "as":
            out.append((words[0], words[2]))
        else:
            raise _Unbundlable(item)
    return out


def _destructure(pairs: list[tuple[str, str]]) -> str:
    return "{ " + ", ".join(a if a == b else f"{a}: {b}" for a, b in pairs) + " }"


class _Bundler:
    def __init__(self, files: Mapping[str, str], entry: str, library: str) -> None:
        self.files = files
        self.entry = entry
        self.library = library  # modules under this folder stay modules
        self.order: list[str] = []
        self.ids: dict[str, str] = {}
        self.bodies: dict[str, str] = {}
        self.libraries: dict[str, str] = {}  # library path -> the bundle's name for it
        self.lib_imports: list[str] = []
        self._open: set[str] = set()

    def visit(self, rel: str) -> str:
        if rel in self.ids:
            return self.ids[rel]
        if rel in self._open or rel not in self.files:
            raise _Unbundlable(rel)  # a cycle, or a module that is not there
        self._open.add(rel)
        self.bodies[rel] = self._module(rel)
        self._open.discard(rel)
        self.ids[rel] = f"__pm{len(self.order)}"
        self.order.append(rel)
        return self.ids[rel]

    def _library(self, rel: str, what: str | None, spec: str) -> str:
        name = self.libraries.get(rel)
        if name is None:
            name = self.libraries[rel] = f"__pl{len(self.libraries)}"
            self.lib_imports.append(f'import * as {name} from "{spec}";')
        if what is None:
            return ""
        lines = []
        what = what.strip()
        default, _, rest = (
            what.partition(",") if not what.startswith(("{", "*")) else ("", "", what)
        )
        if default.strip():
            lines.append(f"const {default.strip()} = {name}.default;")
        rest = rest.strip()
        if rest.startswith("*"):
            lines.append(f"const {rest.split()[-1]} = {name};")
        elif rest:
            lines.append(f"const {_destructure(_pairs(rest.strip('{}')))} = {name};")
        return "\n".join(lines)

    def _module(self, rel: str) -> str:
        source = self.files[rel]
        folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
        exports: list[tuple[str, str]] = []  # (exported name, expression)

        def imported(match: re.Match[str]) -> str:
            what, spec = match.group("what"), match.group(2)
            if not spec.startswith("."):
                raise _Unbundlable(spec)
            target = _resolve(folder, spec)
            if target.startswith(self.library):
                lib_spec = "../" * self._depth() + target  # from the bundle's folder
                return self._library(target, what, lib_spec)
            module = self.visit(target)
            if what is None:
                return ""
            what = what.strip()
            if what.startswith("*"):
                return f"const {what.split()[-1]} = {module};"
            if not what.startswith("{"):
                raise _Unbundlable(what)  # a default import of our own
            return f"const {_destructure(_pairs(what.strip('{}')))} = {module};"

        def reexported(match: re.Match[str]) -> str:
            spec = match.group(2)
            if not spec.startswith("."):
                raise _Unbundlable(spec)
            target = _resolve(folder, spec)
            if target.startswith(self.library):
                raise _Unbundlable(spec)
            module = self.visit(target)
            exports.extend((b, f"{module}.{a}") for a, b in _pairs(match.group("names")))
            return ""

        def listed(match: re.Match[str]) -> str:
            exports.extend((b, a) for a, b in _pairs(match.group("names")))
            return ""

        def declared(match: re.Match[str]) -> str:
            exports.append((match.group("name"), match.group("name")))
            return match.group("decl") + match.group("name")

        body = _IMPORT.sub(imported, source)
        body = _REEXPORT.sub(reexported, body)
        body = _EXPORT_LIST.sub(listed, body)
        body = _EXPORT_DECL.sub(declared, body)
        if _LEFT.search(_COMMENT.sub("", body)):
            raise _Unbundlable(rel)
        # import.meta.url and import("./x") resolve against the bundle's own URL: right
        # only for a module in the bundle's folder.
        if ("import.meta" in body or "import(" in body) and not self._flat(rel):
            raise _Unbundlable(rel)
        getters = ", ".join(f"get {name}() {{ return {expr}; }}" for name, expr in exports)
        return f"(() => {{\n{body}\nreturn {{ {getters} }};\n}})()"

    def _depth(self) -> int:
        return self.entry.count("/")

    def _flat(self, rel: str) -> bool:
        return rel.rsplit("/", 1)[0] == self.entry.rsplit("/", 1)[0]


def bundle(files: Mapping[str, str], entry: str, library: str = "vendor/") -> str | None:
    """``entry`` and the modules it imports (``files``: path -> source) as one module
    meant to be served from ``entry``'s folder; None if they cannot be (see above)."""
    bundler = _Bundler(files, entry, library)
    try:
        bundler.visit(entry)
    except (_Unbundlable, RecursionError):
        return None
    parts = [*bundler.lib_imports, ""]
    for rel in bundler.order:
        parts.append(f"// {rel}\nconst {bundler.ids[rel]} = {bundler.bodies[rel]};")
    return "\n".join(parts) + "\n"


def libraries(source: str) -> list[str]:
    """The library modules a bundle imports at its top, as written (relative to it)."""
    return re.findall(r'^import \* as __pl\d+ from "([^"]+)";$', source, re.MULTILINE)
