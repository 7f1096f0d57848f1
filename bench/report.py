"""Figures, the results table, the machine description, and where results are written."""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

BENCH_DIR = Path(__file__).resolve().parent
START = "<!-- results:start -->"
END = "<!-- results:end -->"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def spread(values: list[float]) -> tuple[float, float, float]:
    """(min, median, max) of repeated runs."""
    if not values:
        return (math.nan, math.nan, math.nan)
    return (min(values), pct(values, 50), max(values))


def fmt(values: list[float], unit: str, digits: int = 2) -> str:
    """``median unit (min–max)`` of repeated runs."""
    lo, mid, hi = spread(values)
    unit = f" {unit}" if unit else ""
    if len(values) == 1:
        return f"{mid:.{digits}f}{unit}"
    return f"{mid:.{digits}f}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"


@dataclass
class Row:
    number: int
    name: str
    target: str
    figure: str = "not run"
    passed: bool | None = None
    runs: dict[str, list[float]] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "—"
        return "pass" if self.passed else "**miss**"


def machine(workers: int) -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "workers": workers,
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def table(rows: list[Row]) -> str:
    lines = [
        "| # | figure | target | measured: median (min–max of runs) | verdict |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.number} | {r.name} | {r.target} | {r.figure} | {r.verdict} |")
    return "\n".join(lines)


def notes(rows: list[Row]) -> str:
    return "\n".join(f"- **#{r.number}**: {r.note}" for r in rows if r.note)


def render(rows: list[Row], info: dict[str, Any], elapsed: float, quick: bool) -> str:
    head = (
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
        f"Python {info['python']} on {info['system']}; Parlour {info['commit'] or '?'}; "
        f"servers run 1 worker, #3 runs `--workers {info['workers']}`; "
        f"{info['date']}; run took {elapsed:.0f} s{' (quick smoke mode)' if quick else ''}.\n"
        f"Load average before / after the run: {info['load_before']} / {info.get('load_after')}.\n"
    )
    return f"{head}\n{table(rows)}\n\n{notes(rows)}\n"


def save(rows: list[Row], info: dict[str, Any], elapsed: float, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"machine": info, "elapsed_s": elapsed, "rows": [asdict(r) for r in rows]}
    blob = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (out_dir / f"run-{stamp}.json").write_bytes(blob)
    latest = out_dir / "latest.json"
    latest.write_bytes(blob)
    return latest


def update_readme(text: str, readme: Path = BENCH_DIR / "README.md") -> None:
    """Replace the generated part of bench/README.md (between the markers)."""
    if not readme.is_file():
        return
    current = readme.read_text()
    if START not in current or END not in current:
        return
    before, rest = current.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(f"{before}{START}\n{text}{END}{after}")
