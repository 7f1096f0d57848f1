"""How ``SHUTDOWN_GRACE_SECONDS`` is spent after a stop signal.

Budget (``grace`` = ``SHUTDOWN_GRACE_SECONDS``), from the signal::

    0 .. grace - hand_over       running replies may finish
    grace - hand_over            the rest are stored as interrupted; readers told
    grace - teardown             uvicorn stops waiting for connections
    grace                        the lifespan has closed Redis and the models

with ``hand_over = min(5, 0.5 grace)`` and ``teardown = min(1, 0.1 grace)``.
"""

from __future__ import annotations


def hand_over_time(grace: float) -> float:
    """How long before the end of the grace period running replies are handed over."""
    return min(5.0, grace * 0.5)


def connections_timeout(grace: float) -> float:
    """How long uvicorn waits for open connections after a stop signal."""
    return max(0.1, grace - min(1.0, grace * 0.1))
