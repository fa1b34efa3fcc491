"""The pure parts of function calling: confirmation words, FAQ scoring, URL and field rules,
redaction."""

from __future__ import annotations

import json

import pytest

from device.tools.audit import audit_line, redact
from device.tools.faq import Faq
from device.tools.guardrails import (
    CallLimits,
    Confirmations,
    Decision,
    _phrases,
    answer_of,
)
from device.tools.http_rules import fill_url, host_allowed, server_ms
from device.tools.http_tool import select_fields
from device.tools.schema import make_validator, parse_arguments
from device.tools.settings import DEFAULT_NO_WORDS, DEFAULT_YES_WORDS

YES = _phrases(DEFAULT_YES_WORDS)
NO = _phrases(DEFAULT_NO_WORDS)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Yes.", "yes"),
        ("Yeah, go ahead", "yes"),
        ("That's correct", "yes"),
        ("Okay", "yes"),
        ("No.", "no"),
        ("Nope, it's four one seven three", "no"),
        ("That's not right", "no"),
        ("Yes... no wait", "no"),
        ("Don’t do that", "no"),  # typographic apostrophe, as transcripts write it
        ("Four one seven two", ""),
        ("I don't know", "no"),
        ("Yesterday", ""),  # a word, not a prefix
    ],
)
def test_spoken_answers(text: str, answer: str) -> None:
    assert answer_of(text, YES, NO) == answer


def test_confirmation_needs_a_read_back_then_a_yes() -> None:
    book = Confirmations(yes_words=DEFAULT_YES_WORDS, no_words=DEFAULT_NO_WORDS)
    args = {"job_id": "4172"}
    t1 = (("user", "close job 4172"),)
    assert book.check("close", args, t1) is Decision.ASK
    # the model calls again before saying anything: still ask
    assert book.check("close", args, t1) is Decision.ASK
    t2 = (*t1, ("assistant", "Four one seven two, right?"))
    assert book.check("close", args, t2) is Decision.ASK  # the caller has not answered
    t3 = (*t2, ("user", "yes"))
    assert book.check("close", args, t3) is Decision.RUN
    # used up: the next call needs its own confirmation
    assert book.check("close", args, t3) is Decision.ASK
    book.start()  # a new conversation forgets pending read-backs
    assert book.check("close", args, (*t3, ("assistant", "ok?"), ("user", "yes"))) is Decision.ASK


def test_call_limits() -> None:
    limits = CallLimits(2)
    assert limits.take("a", None) is None
    assert limits.take("b", 1) is None
    assert "already called 1 time" in (limits.take("b", 1) or "")
    assert limits.take("end", None, counts_to_total=False) is None
    assert "limit reached" in (limits.take("a", None) or "")
    limits.start()
    assert limits.take("a", None) is None


def test_argument_errors_name_the_field() -> None:
    validator = make_validator(
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "maximum": 9}},
            "required": ["n"],
        }
    )
    assert parse_arguments(validator, "t", '{"n": 3}') == ({"n": 3}, None)
    assert parse_arguments(validator, "t", "") == (
        None,
        "Invalid arguments for t: arguments: 'n' is a required property. Ask the caller for "
        "what is missing or wrong, then call it again.",
    )
    _, error = parse_arguments(validator, "t", '{"n": 12}')
    assert error is not None and "$.n: 12 is greater than the maximum of 9" in error


def test_faq_scoring_prefers_more_matching_words() -> None:
    faq = Faq(
        [
            (("hours", "open"), "Hours."),
            (("open on sunday", "sunday"), "Sundays: closed."),
            (("returns", "refund"), "Returns within 30 days."),
        ]
    )
    assert faq.answer("Are you open on Sunday?").text == "Sundays: closed."
    assert faq.answer("what are your hour").text == "Hours."  # singular matches plural
    assert faq.answer("Can I get a refund?").text == "Returns within 30 days."
    assert not faq.answer("Where is the toilet?").matched
    assert Faq([(("parking",), "P")], min_score=2).answer("parking?").matched is False


def test_url_placeholders_are_encoded() -> None:
    url, used = fill_url("https://h/jobs/{id}/{n}", {"id": "a/b c?d#e", "n": 7})
    assert url == "https://h/jobs/a%2Fb%20c%3Fd%23e/7"
    assert used == {"id", "n"}
    with pytest.raises(KeyError):
        fill_url("https://h/{missing}", {})


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("jobs.example.com", True),
        ("JOBS.example.com.", True),
        ("api.shop.example", True),
        ("shop.example", False),  # *.shop.example means subdomains only
        ("evilshop.example", False),
        ("jobs.example.com.evil.net", False),
    ],
)
def test_allowlist(host: str, allowed: bool) -> None:
    assert host_allowed(host, ["jobs.example.com", "*.shop.example"]) is allowed


def test_select_fields() -> None:
    data = {"a": {"b": 1}, "items": [{"name": "x"}], "c": None}
    assert select_fields(data, ["a.b", "items.0.name", "c", "missing", "items.5"]) == {
        "a.b": 1,
        "items.0.name": "x",
        "c": None,
    }


def test_server_timing() -> None:
    assert server_ms("app;dur=1.5, db;dur=2") == 3.5
    assert server_ms(None) is None and server_ms("cache;desc=hit") is None


def test_redaction() -> None:
    secret = "s3cr3t/+=value"
    record = {
        "arguments": {"Password": "hunter2", "job": "4172", "nested": [{"api_key": 5}]},
        "request": {"url": "https://h/x?q=s3cr3t%2F%2B%3Dvalue", "note": f"Bearer {secret}"},
    }
    clean = redact(record, [secret])
    assert clean == {
        "arguments": {"Password": "***", "job": "4172", "nested": [{"api_key": "***"}]},
        "request": {"url": "https://h/x?q=***", "note": "Bearer ***"},
    }
    line = audit_line(record, [secret])
    assert secret not in line and "hunter2" not in line
    assert json.loads(line) == clean
