"""Knowing, inside the app, the moment the process is asked to stop.

uvicorn owns SIGTERM and SIGINT: on the first one it stops accepting, waits for
open connections (up to its graceful timeout), and only then runs the app's
lifespan shutdown. Reply streams stay open as long as their replies run, so
waiting for the lifespan would spend the whole grace period twice. The app
therefore adds itself behind uvicorn's handler: the signal starts the replies'
hand-over clock at once (see ``ReplyManager.begin_shutdown``), so the streams
end with a final event inside the one budget, ``SHUTDOWN_GRACE_SECONDS``.

The budget is split in :mod:`parlour.grace`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` in the running loop when a stop signal arrives, after the
    handler already installed (uvicorn's). Returns a function that removes it.

    Signals reach only the main thread: elsewhere (an app served from a thread)
    this does nothing, and the lifespan's own shutdown still hands replies over.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    # Only behind a Python handler: a default action (terminate) is left as it is.
    previous = {sig: h for sig in STOP_SIGNALS if callable(h := signal.getsignal(sig))}

    def handler(sig: int, frame: FrameType | None) -> None:
        before = previous[signal.Signals(sig)]
        if callable(before):
            before(sig, frame)
        loop.call_soon_threadsafe(callback)

    for sig in previous:
        signal.signal(sig, handler)

    def remove() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, before)

    return remove
