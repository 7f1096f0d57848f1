"""The benchmark runs end to end in its smoke mode (no timing is checked here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    assert numbers == ["1", "2", "3", "4", "5", "6", "7"], done.stdout
    assert "failed:" not in done.stdout, done.stderr[-3000:]
    assert (tmp_path / "latest.json").is_file()
