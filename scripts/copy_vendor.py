"""Copy the chat page's browser libraries from node_modules into the package.

Run by ``make web-assets`` after ``npm ci``. Versions are pinned by package.json
and package-lock.json; only these files (and each package's licence) are copied
into ``src/parlour/web/static/vendor/``, which is generated and not committed.
The page imports them by these fixed names, so an upgrade never touches its code.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "parlour" / "web" / "static" / "vendor"

# package -> [(file inside the package, name in vendor/)]. Every script ends in .js so
# it is served as JavaScript whatever the system's MIME table says about .mjs.
FILES: dict[str, list[tuple[str, str]]] = {
    "marked": [("lib/marked.esm.js", "marked.esm.js"), ("LICENSE", "marked.LICENSE")],
    "dompurify": [("dist/purify.es.mjs", "purify.es.js"), ("LICENSE", "dompurify.LICENSE")],
    "@highlightjs/cdn-assets": [
        ("es/highlight.min.js", "highlight.min.js"),
        ("LICENSE", "highlight.LICENSE"),
    ],
    # Maths; the page loads it only when a message holds some.
    "katex": [
        ("dist/katex.mjs", "katex.js"),
        ("dist/katex.min.css", "katex/katex.min.css"),
        ("LICENSE", "katex.LICENSE"),
    ],
    # The interactive API page (/docs) uses its own copy, so it works offline.
    "swagger-ui-dist": [
        ("swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"),
        ("swagger-ui.css", "swagger-ui/swagger-ui.css"),
        ("LICENSE", "swagger-ui/LICENSE"),
        ("NOTICE", "swagger-ui/NOTICE"),
        ("swagger-ui-bundle.js.LICENSE.txt", "swagger-ui/swagger-ui-bundle.js.LICENSE.txt"),
    ],
}


# package -> [(folder inside the package, pattern, folder in vendor/)]: KaTeX's fonts.
# Its stylesheet names WOFF2 first, which every browser the page supports reads,
# so the WOFF and TTF copies are left out.
FOLDERS: dict[str, list[tuple[str, str, str]]] = {
    "katex": [("dist/fonts", "*.woff2", "katex/fonts")],
}


def version_of(package: str) -> str:
    manifest = json.loads((MODULES / package / "package.json").read_text(encoding="utf-8"))
    return str(manifest["version"])


def main() -> int:
    if not MODULES.is_dir():
        print("node_modules/ is missing: run `npm ci` first.", file=sys.stderr)
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    versions: dict[str, str] = {}
    for package, files in FILES.items():
        for source, target in files:
            path = MODULES / package / source
            if not path.is_file():
                print(f"{package}: {source} not found; is the version right?", file=sys.stderr)
                return 1
            (VENDOR / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, VENDOR / target)
        versions[package] = version_of(package)
    copied = sum(len(f) for f in FILES.values())
    for package, folders in FOLDERS.items():
        for source, pattern, target in folders:
            found = sorted((MODULES / package / source).glob(pattern))
            if not found:
                print(f"{package}: no {source}/{pattern}; is the version right?", file=sys.stderr)
                return 1
            (VENDOR / target).mkdir(parents=True, exist_ok=True)
            for path in found:
                shutil.copyfile(path, VENDOR / target / path.name)
            copied += len(found)
    (VENDOR / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    print(f"copied {copied} files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
