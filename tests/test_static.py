"""The page's files: versioned URLs cached for good, the HTML revalidated, text gzipped."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import httpx

from parlour.web.assets import StaticAssets
from tests.accounts import PASSWORD_MODE
from tests.conftest import ServerFactory
from tests.live import LiveServer

IMMUTABLE = "public, max-age=31536000, immutable"


def page_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_the_html_names_its_files_under_one_versioned_prefix(client: httpx.Client) -> None:
    html = client.get("/").text
    refs = page_refs(html)
    versions = {ref.split("/")[2] for ref in refs}
    assert len(versions) == 1
    assert re.fullmatch(r"[0-9a-f]{12}", versions.pop())
    # The page's modules come folded into one file, its stylesheets into one; the
    # libraries the modules import are preloaded beside them: no waterfall.
    scripts = re.findall(r'<script type="module" src="([^"]+)"', html)
    assert [s.rsplit("/", 2)[-2:] for s in scripts] == [["js", "app.bundle.js"]]
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert [s.rsplit("/", 1)[-1] for s in sheets] == ["app+markdown+personas+organise.css"]
    preloads = re.findall(r'<link rel="modulepreload" href="([^"]+)"', html)
    assert sorted(p.rsplit("/", 1)[-1] for p in preloads) == [
        "highlight.min.js", "marked.esm.js", "purify.es.js"
    ]  # fmt: skip
    bundle = client.get(scripts[0]).text
    assert "// js/conversation.js" in bundle
    joined = client.get(sheets[0]).text
    assert all(client.get(f"/css/{n}.css").text in joined for n in ("app", "organise"))
    for ref in refs:
        response = client.get(ref)
        assert response.status_code == 200, ref
        assert response.headers["cache-control"] == IMMUTABLE, ref


def test_the_html_is_revalidated_with_an_etag(client: httpx.Client) -> None:
    first = client.get("/")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get("/index.html").headers["etag"] == etag


def test_the_page_carries_the_message_limit_and_sign_in_mode(make_server: ServerFactory) -> None:
    server = make_server(max_message_chars=1234)
    html = httpx.get(server.url + "/").text
    assert '<meta name="parlour:max-message-chars" content="1234">' in html
    assert '<meta name="parlour:auth-mode" content="none">' in html


def test_text_files_are_gzipped_when_the_browser_accepts_it(server: LiveServer) -> None:
    html = httpx.get(server.url + "/").text
    app_js = next(ref for ref in page_refs(html) if ref.endswith("/js/app.bundle.js"))
    raw = httpx.get(server.url + app_js, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    with httpx.stream(
        "GET", server.url + app_js, headers={"Accept-Encoding": "gzip, deflate, br"}
    ) as packed:
        body = b"".join(packed.iter_raw())
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.headers["etag"] != raw.headers["etag"]
    assert gzip.decompress(body) == raw.content
    assert len(body) < len(raw.content) / 2


def test_reply_streams_are_never_compressed(client: httpx.Client) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    with client.stream(
        "POST",
        f"/api/v1/sessions/{sid}/messages",
        json={"content": "hi"},
        headers={"Accept-Encoding": "gzip", "Accept": "text/event-stream"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        response.read()


def test_an_old_version_gets_todays_file_but_not_for_keeps(client: httpx.Client) -> None:
    response = client.get("/static/000000000000/js/app.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"


def test_plain_paths_still_work_and_are_revalidated(client: httpx.Client) -> None:
    response = client.get("/js/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert (
        client.get("/js/app.js", headers={"If-None-Match": response.headers["etag"]}).status_code
        == 304
    )


def test_missing_files_and_writes_are_refused_politely(client: httpx.Client) -> None:
    missing = client.get("/static/abc/js/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "http_404"
    assert client.get("/static/abc/index.html").status_code == 404
    write = client.post("/js/app.js")
    assert write.status_code == 405


def test_the_version_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text(
        '<head><script type="module" src="js/a.js"></script></head>'
    )
    (tmp_path / "js" / "a.js").write_text('import { b } from "./b.js";\n')
    (tmp_path / "js" / "b.js").write_text("export const b = 1;\n")
    first = StaticAssets(tmp_path)
    assert StaticAssets(tmp_path).version == first.version
    html = first.files["index.html"].body.decode()
    assert f'src="/static/{first.version}/js/a.bundle.js"' in html
    assert "export const b = 1" not in first.files["js/a.bundle.js"].body.decode()
    assert "const b = 1" in first.files["js/a.bundle.js"].body.decode()
    (tmp_path / "js" / "b.js").write_text("export const b = 2;\n")
    assert StaticAssets(tmp_path).version != first.version
    # Modules that do not fold (here an import cycle) are loaded one by one, preloaded.
    (tmp_path / "js" / "b.js").write_text('import { a } from "./a.js";\nexport const b = 2;\n')
    cyclic = StaticAssets(tmp_path)
    html = cyclic.files["index.html"].body.decode()
    assert f'src="/static/{cyclic.version}/js/a.js"' in html
    assert f'<link rel="modulepreload" href="/static/{cyclic.version}/js/b.js">' in html


def test_the_first_api_questions_leave_with_the_html(make_server: ServerFactory) -> None:
    open_server = make_server()
    html = httpx.get(open_server.url + "/").text
    preloaded = re.findall(
        r'<link rel="preload" as="fetch" crossorigin="anonymous" href="([^"]+)"', html
    )
    assert "/api/v1/personas" in preloaded
    assert "/api/v1/sessions?offset=0&amp;limit=50" in preloaded
    # With accounts, a signed-out visitor would only get refusals: nothing is preloaded.
    accounts = make_server(**PASSWORD_MODE)
    assert 'as="fetch"' not in httpx.get(accounts.url + "/").text
