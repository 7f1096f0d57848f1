"""Two minutes of the soak (bench/soak.py): random sends, hang-ups and resumes on either
process, stops, regenerations and edits, with a SIGKILL of each process along the way.
Whatever happened, every conversation is consistent and every reply is stored as its
reader saw it; deleting everything leaves no key without a TTL. (Timing and memory
figures are the bench's: bench/README.md.)"""

from __future__ import annotations

import pytest
from bench.soak import run_soak


@pytest.mark.timeout(900)
def test_two_minutes_of_everything_with_a_kill_of_each_process() -> None:
    result = run_soak(120, 8, seed=3)
    print(result.summary())
    assert result.problems == []
    assert len(result.kills) == 2  # each process was killed once, and came back
    assert result.untimed_keys == []
    # The run did what it claims: replies of every kind, resumed ones among them.
    kinds = {s.action for s in result.replies}
    assert {"send", "resume", "stop", "regenerate", "edit"} <= kinds
    assert sum(s.resumes for s in result.replies) > 0
    assert all(s.final for s in result.replies)
