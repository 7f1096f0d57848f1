"""The benchmark runs end to end in its smoke mode (no timing is checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.run import TARGETS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_quick_benchmark_prints_every_row(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    numbers = [line.split("|")[1].strip() for line in rows[1:]]
    assert numbers == [str(n) for n in sorted(TARGETS)], done.stdout
    assert "failed:" not in done.stdout, done.stderr[-3000:]
    assert (tmp_path / "latest.json").is_file()


@pytest.mark.timeout(300)
def test_quick_browser_benchmark_prints_every_figure(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is missing: run `make system-deps`")
    done = subprocess.run(
        [sys.executable, "-m", "bench.rendering", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 7, done.stdout  # the header, then one row per figure
    results = json.loads((tmp_path / "rendering.json").read_text())
    # Whatever the timings, the streamed replies ended exactly as a full render shows them.
    assert results["markdown"]["equals_full_render"] is True
    assert results["words"]["equals_full_render"] is True
    assert results["conversation"]["shown_all"] == results["conversation"]["messages"]
