"""The page's modules folded into one: what folds, and what falls back to modules."""

from __future__ import annotations

import pytest

from parlour.web.bundle import bundle, libraries


def test_modules_fold_in_the_order_the_browser_runs_them() -> None:
    files = {
        "js/app.js": 'import { b, c as see } from "./b.js";\nimport "./side.js";\n'
        'import { Marked } from "../vendor/marked.js";\nimport purify from "../vendor/p.js";\n'
        "console.log(b, see, Marked, purify);\n",
        "js/b.js": 'export { c } from "./c.js";\nexport function b() {}\nlet n = 1;\n'
        "export { n as count };\n",
        "js/c.js": "export const c = 3;\nexport class K {}\n",
        "js/side.js": "document.title = 'x';\n",
    }
    out = bundle(files, "js/app.js")
    assert out is not None
    assert libraries(out) == ["../vendor/marked.js", "../vendor/p.js"]
    order = [line.removeprefix("// ") for line in out.splitlines() if line.startswith("// ")]
    assert order == ["js/c.js", "js/b.js", "js/side.js", "js/app.js"]
    assert "export" not in out.replace("import * as", "")
    assert "get count() { return n; }" in out
    assert "const { b, c: see } = __pm1;" in out
    assert "const purify = __pl1.default;" in out


@pytest.mark.parametrize(
    "files",
    [
        {"js/app.js": 'import { b } from "./b.js";\n', "js/b.js": 'import "./app.js";\n'},
        {"js/app.js": 'import b from "./b.js";\n', "js/b.js": "export default 1;\n"},
        {"js/app.js": 'import { b } from "./gone.js";\n'},
        {"js/app.js": "export const { a, b } = {};\n"},
        {"js/app.js": 'import { x } from "lib";\n'},
        {"js/app.js": 'import "./sub/b.js";\n', "js/sub/b.js": 'import("../c.js");\n'},
    ],
    ids=[
        "cycle",
        "default export",
        "missing",
        "destructuring export",
        "bare specifier",
        "dynamic import elsewhere",
    ],
)
def test_what_does_not_fold_is_left_to_the_browser(files: dict[str, str]) -> None:
    assert bundle(files, "js/app.js") is None
