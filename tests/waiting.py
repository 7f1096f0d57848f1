"""Waiting on a condition, never on the clock: poll until it holds, within a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 10.0,
    *,
    what: str = "condition",
    interval: float = 0.05,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """The first truthy value of ``condition()``; AssertionError if none came in ``timeout``.

    ``timeout`` only bounds a test that would otherwise hang: a test must pass however
    slow the machine is, so it is a generous limit, never a measurement. Exceptions
    of the kinds in ``ignore`` count as "not yet" (a server still starting).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignore:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(interval)
