"""Every error code the server can send, derived from the code itself.

Three sources, so a new code cannot slip past the page's table unnoticed:

- the error tree: the ``code`` of ``ParlourError`` and every subclass (all of
  ``parlour`` imported first, so each one is defined);
- literals in ``src/parlour``: a ``code="..."`` argument (a more precise code for
  one raise), a literal code handed to ``error_response`` (middleware refusals,
  validation), to ``reject`` or ``ImportRejected`` (an import's refusals) or as a
  ``Skipped`` conversation's code (an import's report), and a ``{"code": "..."}`` dict
  entry (stream events);
- ``http_<status>`` for every status the web framework raises ``HTTPException``
  with (routing's 404 and 405, a body that cannot be parsed, static files), as
  ``web/errors.py`` names them.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import fastapi
import starlette

import parlour
from parlour.errors import ParlourError

SRC = Path(parlour.__file__).resolve().parent


def _subclasses(cls: type[ParlourError]) -> set[type[ParlourError]]:
    found: set[type[ParlourError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def tree_codes() -> set[str]:
    for info in pkgutil.walk_packages(parlour.__path__, "parlour."):
        if not info.name.endswith("__main__"):  # that one runs the server
            importlib.import_module(info.name)
    return {c.code for c in {ParlourError, *_subclasses(ParlourError)}}


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def literal_codes() -> set[str]:
    codes: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "code" and (code := _literal(kw.value)):
                        codes.add(code)
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                literal = _literal(node.args[1]) if len(node.args) > 1 else None
                if name == "error_response" and literal:
                    codes.add(literal)
                first = _literal(node.args[0]) if node.args else None
                if name in ("reject", "ImportRejected") and first:
                    codes.add(first)
                third = _literal(node.args[2]) if len(node.args) > 2 else None
                if name == "Skipped" and third:
                    codes.add(third)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if _literal(key) == "code" and (code := _literal(value)):
                        codes.add(code)
    return codes


_RAISED = re.compile(r"HTTPException\(\s*status_code=(\d{3})")


def framework_codes() -> set[str]:
    statuses: set[str] = set()
    for package in (starlette, fastapi):
        for path in Path(package.__file__).parent.rglob("*.py"):
            statuses |= set(_RAISED.findall(path.read_text(encoding="utf-8")))
    return {f"http_{status}" for status in statuses}


def server_codes() -> set[str]:
    return tree_codes() | literal_codes() | framework_codes()
