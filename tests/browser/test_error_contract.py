"""One error contract: the page has a zh and an en text for every code the server can send,
and tells a known ``retry_after`` as a wait."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from parlour.accounts import MAX_PASSWORD, MIN_PASSWORD
from tests.browser.chat import chat
from tests.error_codes import server_codes
from tests.upstream import ScriptedUpstream, Status

pytestmark = pytest.mark.browser

TABLE = """async () => {
  const { ERROR_KEYS, STRINGS } = await import("/js/i18n.js");
  return { keys: ERROR_KEYS, zh: STRINGS.zh, en: STRINGS.en };
}"""


def test_the_page_has_text_for_every_code_the_server_can_send(app: Page) -> None:
    table = app.evaluate(TABLE)
    codes = server_codes()
    # The derivation reaches every source of codes: the tree, a precise code on one raise,
    # a middleware's refusal, the framework's own errors.
    assert {"upstream_rate_limited", "bad_credentials", "cross_origin", "http_405"} <= codes
    missing = sorted(code for code in codes if code not in table["keys"])
    assert not missing, f"the page has no text for {missing}: add them to ERROR_KEYS in i18n.js"
    for code in codes:
        key = table["keys"][code]
        assert table["en"].get(key), (code, key, "no English text")
        assert table["zh"].get(key), (code, key, "no Chinese text")
    sizes = f"{MIN_PASSWORD}–{MAX_PASSWORD}"
    assert sizes in table["en"]["authBadPassword"]
    assert sizes in table["zh"]["authBadPassword"]


def test_a_rate_limited_reply_says_when_to_try_again(app: Page, upstream: ScriptedUpstream) -> None:
    # Longer than the server waits for itself, so it gives up at once and passes it on.
    upstream.enqueue(Status(429, retry_after="45"))
    chat(app, "Are you busy?")
    error = app.locator(".msg-assistant .msg-error")
    expect(error).to_have_text(
        "The model service is receiving too many requests. Please try again in 45 s."
    )
    app.get_by_role("button", name="切换到中文").click()
    upstream.enqueue(Status(429, retry_after="45"))
    chat(app, "你好")
    expect(error.last).to_have_text("模型服务当前请求过多，请在 45 秒后再试。")


def test_a_refusal_is_told_by_its_code_not_its_sentence(app: Page) -> None:
    told = app.evaluate(
        """async () => {
          const { describeError } = await import("/js/errors.js");
          return [
            describeError({ code: "signup_closed", message: "Whatever the server says." }),
            describeError({ code: "rate_limited", message: "x", retry_after: 90 }),
            describeError({ code: "rate_limited", message: "x", retry_after: 3 * 3600 }),
            describeError({ code: "storage_unavailable", message: "x", retry_after: 2 }),
            describeError({ code: "upstream_rejected", message: "x", retry_after: 5 }),
          ];
        }"""
    )
    assert told == [
        "Sign-up is closed on this server. Ask its administrator for an account.",
        "Too many requests — try again in 90 s.",
        "Too many requests — try again in 3 h.",
        "The conversation store cannot be reached right now. Please try again in 2 s.",
        "The model service refused this request. Please try again in 5 s.",
    ]
