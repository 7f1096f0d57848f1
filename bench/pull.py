"""Pull speed from loopback: ``parlour models pull``'s download code (``parlour.pull.pull``,
through huggingface_hub) against the tests' server in the Hub's URL layout.

    python -m bench.pull [--repeats 3] [--mb 256]

Two files: the bundled GGUF (98.4 MB) and one of ``--mb`` MiB of random bytes, served by
a child process (the tests' server, stdlib ``http.server``) so that it does not share the
pulling process's interpreter. Each pull starts from an empty models directory and is
timed from the call to its return: the metadata request, the download to the ``.part``
file, the sha256 over the whole file and the rename into place. Beside it, the same
file's sha256 alone, and a plain GET of the same URL into nothing (httpx2, 10 MB reads):
the loopback server's own ceiling.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from tests.hub import FakeHub

from parlour.models_dir import ModelsDir
from parlour.providers.local import bundled_model_path
from parlour.pull import Hub, pull

MB = 1_000_000  # decimal megabytes, as the sizes are printed


def _hash_seconds(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return time.perf_counter() - started


def _plain_get(url: str) -> float:
    started = time.perf_counter()
    with httpx2.stream("GET", url, timeout=60) as response:
        for _ in response.iter_bytes(chunk_size=10 << 20):
            pass
    return time.perf_counter() - started


def serve(paths: list[str]) -> None:
    """The child: serve the files as bench/models, print the URL, stay until stdin closes."""
    hub = FakeHub().start()
    for raw in paths:
        path = Path(raw)
        hub.add("bench/models", path.name, path)
    print(hub.url, flush=True)
    sys.stdin.read()
    hub.stop()


def measure(repeats: int, random_mb: int) -> list[dict[str, float | str]]:
    work = Path(tempfile.mkdtemp(prefix="parlour-bench-pull-"))
    files: list[Path] = []
    bundled = bundled_model_path()
    if bundled is not None:
        files.append(work / "bundled.gguf")
        shutil.copyfile(bundled, files[-1])
    noise = work / "noise.gguf"
    with noise.open("wb") as f:
        for _ in range(random_mb):
            f.write(os.urandom(1 << 20))
    files.append(noise)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.pull", "--serve", *map(str, files)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        rows: list[dict[str, float | str]] = []
        for path in files:
            name, size = path.name, path.stat().st_size
            pulls, gets, hashes = [], [], []
            for _ in range(repeats):
                target = work / "models"
                shutil.rmtree(target, ignore_errors=True)
                started = time.perf_counter()
                pull(ModelsDir(target), Hub(endpoint=url), "bench/models", name)
                pulls.append(time.perf_counter() - started)
                gets.append(_plain_get(f"{url}/bench/models/resolve/main/{name}"))
                hashes.append(_hash_seconds(path))
            rows.append({
                "file": name, "MB": round(size / MB, 1),
                "pull_s": statistics.median(pulls),
                "pull_MBps": size / MB / statistics.median(pulls),
                "pull_MBps_min": size / MB / max(pulls), "pull_MBps_max": size / MB / min(pulls),
                "get_MBps": size / MB / statistics.median(gets),
                "sha256_MBps": size / MB / statistics.median(hashes),
            })  # fmt: skip
        return rows
    finally:
        child.communicate(timeout=30)  # closes its stdin: it stops
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mb", type=int, default=256, help="size of the random file, MiB")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"load average before: {os.getloadavg()}")
    rows = measure(args.repeats, args.mb)
    print("| file | size | pull: median (min–max) | pull time | plain GET | sha256 alone |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['MB']} MB | {r['pull_MBps']:.0f} MB/s "
              f"({r['pull_MBps_min']:.0f}–{r['pull_MBps_max']:.0f}) | {r['pull_s']:.2f} s "
              f"| {r['get_MBps']:.0f} MB/s | {r['sha256_MBps']:.0f} MB/s |")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
