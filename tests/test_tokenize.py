"""The search tokenizer, by tables: what a text is indexed under, what a query finds."""

from __future__ import annotations

import pytest

from parlour.store.tokenize import index_tokens, matches, parse_query, snippet


@pytest.mark.parametrize(
    ("text", "words", "cjk"),
    [
        ("Hello, World!", {"hello", "world"}, set()),
        ("ＡＢＣ full-width", {"abc", "full", "width"}, set()),
        ("parse_json", {"parse_json", "parse", "json"}, set()),
        ("getUserName", {"getusername", "get", "user", "name", "username"}, set()),
        ("parse_json_file", {"parse_json_file", "parse", "json", "file", "json_file"}, set()),
        ("HTTPServer", {"httpserver", "http", "server"}, set()),
        ("os.path.join(a_b)", {"os", "path", "join", "a_b", "a", "b"}, set()),
        ("utf8 café", {"utf8", "utf", "8", "café"}, set()),
        ("机器学习", set(), {"机", "器", "学", "习", "机器", "器学", "学习"}),
        ("用Python写", {"python"}, {"用", "写"}),
        ("東京タワー", set(), {"東", "京", "タ", "ワ", "ー", "東京", "京タ", "タワ", "ワー"}),
        ("", set(), set()),
    ],
)
def test_index_tokens(text: str, words: set[str], cjk: set[str]) -> None:
    assert index_tokens(text) == (words, cjk)


@pytest.mark.parametrize(
    ("query", "text", "found"),
    [
        # English: words, any case, as prefixes; every word must be there
        ("hello", "Say HELLO to them", ["HELLO"]),
        ("hel wor", "hello world", ["hello", "world"]),
        ("hel wor", "hello there", []),
        ("orld", "hello world", []),  # a prefix, not any substring
        # Chinese: substrings, no segmentation
        ("学习", "我爱机器学习", ["学习"]),
        ("机器学习", "机器和学习", []),  # the bigrams are there, the run is not
        ("器", "机器", ["器"]),
        # mixed
        ("python 教程", "Python 入门教程", ["Python", "教程"]),
        ("python教程", "一份python教程", ["python", "教程"]),
        # code
        ("parse_json", "call parse_json(x)", ["parse_json"]),
        ("json", "call parse_json(x)", ["json"]),
        ("username", "user.getUserName()", ["UserName"]),
        ("getuser", "getUserName()", ["getUserName"]),
        ("http", "class HTTPServer:", ["HTTPServer"]),
    ],
)
def test_matches(query: str, text: str, found: list[str]) -> None:
    spans = matches(parse_query(query), text)
    assert [text[s:e] for s, e in spans] == found


def test_query_terms() -> None:
    q = parse_query("Redis 机器学习 redis 猫")
    assert q.words == ("redis",)
    assert q.cjk_terms() == ["机器", "器学", "学习", "猫"]
    assert parse_query("  ?!  ").empty


@pytest.mark.parametrize(
    ("text", "spans", "shown", "marked"),
    [
        ("find the needle here", [(9, 15)], "find the needle here", ["needle"]),
        ("😀 needle", [(2, 8)], "😀 needle", ["needle"]),  # offsets in UTF-16 units
        ("a\nb needle", [(4, 10)], "a b needle", ["needle"]),
        ("word " * 40 + "needle" + " tail" * 40, [(200, 206)], None, ["needle"]),
    ],
)
def test_snippet(
    text: str, spans: list[tuple[int, int]], shown: str | None, marked: list[str]
) -> None:
    out, marks = snippet(text, spans)
    if shown is not None:
        assert out == shown
    else:
        assert out.startswith("…")
        assert out.endswith("…")
        assert len(out) < len(text)
    as_units = out.encode("utf-16-le")
    assert [as_units[s * 2 : e * 2].decode("utf-16-le") for s, e in marks] == marked
