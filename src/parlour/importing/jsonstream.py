"""JSON read from a stream as events, built into values under limits.

ijson's own object builder keeps every value's full path as a string, so a deeply
nested document costs memory that grows with the square of its depth (a 200 KB
file of nested brackets took 22 GB). Values are built here from ijson's
``basic_parse`` events instead, and refused as soon as one passes a limit: nesting
depth, a string's length, the members of one object or array.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from parlour.importing.limits import ImportLimits, reject


@dataclass(slots=True)
class _Open:
    value: dict[str, Any] | list[Any]
    key: str | None = None


def _events(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    try:
        yield from ijson.basic_parse(stream, use_float=True)
    except ijson.JSONError:
        reject("import_bad_json", "The file is not valid JSON (or it was cut off).")
    except UnicodeDecodeError:
        reject("import_bad_json", "The file is not valid UTF-8 JSON text.")


def documents(stream: IO[bytes], limits: ImportLimits) -> Iterator[Any]:
    """The elements of a top-level array, one at a time; or the top-level value itself
    when it is not an array. Each is built whole, within ``limits``."""
    events = _events(stream)
    first = next(events, None)
    if first is None:
        reject("import_bad_json", "The file is empty.")
    if first[0] == "start_array":
        while True:
            nxt = next(events, None)
            if nxt is None:
                reject("import_bad_json", "The file is not valid JSON (or it was cut off).")
            if nxt[0] == "end_array":
                break
            yield _build(nxt, events, limits, depth=1)
        if next(events, None) is not None:
            reject("import_bad_json", "The file has more after its JSON value.")
        return
    yield _build(first, events, limits, depth=0)


def _build(
    first: tuple[str, Any], events: Iterator[tuple[str, Any]], limits: ImportLimits, depth: int
) -> Any:
    """One whole value, its first event given; without recursion."""
    event, value = first
    if event not in ("start_map", "start_array"):
        return _scalar(event, value, limits)
    stack: list[_Open] = []
    result: Any = None

    def open_container(kind: str) -> None:
        if depth + len(stack) + 1 > limits.max_depth:
            reject(
                "import_too_deep",
                f"The file nests values more than {limits.max_depth} levels deep.",
            )
        stack.append(_Open({} if kind == "start_map" else []))

    open_container(event)
    for event, value in events:
        top = stack[-1]
        if event == "map_key":
            top.key = value
            continue
        if event in ("end_map", "end_array"):
            done = stack.pop().value
            if not stack:
                result = done
                break
            _put(stack[-1], done, limits)
            continue
        if event in ("start_map", "start_array"):
            open_container(event)
            continue
        _put(top, _scalar(event, value, limits), limits)
    else:
        reject("import_bad_json", "The file is not valid JSON (or it was cut off).")
    return result


def _put(top: _Open, value: Any, limits: ImportLimits) -> None:
    container = top.value
    if len(container) >= limits.max_items:
        reject(
            "import_too_many_items",
            f"An object or list in the file has more than {limits.max_items} entries.",
        )
    if isinstance(container, list):
        container.append(value)
    else:
        container[top.key or ""] = value


def _scalar(event: str, value: Any, limits: ImportLimits) -> Any:
    if event == "string" and len(value) > limits.max_string_chars:
        reject(
            "import_string_too_long",
            f"A text in the file is longer than {limits.max_string_chars} characters.",
        )
    return value
