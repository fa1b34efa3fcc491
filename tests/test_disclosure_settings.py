"""Disclosure and consent in the settings, check-config, the engine's policy and
make-prompts: the keys, their checks, and the site's WAVs made from the config's text."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from device.config.loader import check_config, load_settings
from device.config.settings import DEFAULT_DISCLOSURE
from device.conversation.disclosure import AI_TRUTH, ConsentRule
from device.daemon.engine_policy import conversation_policy
from device.prompts import PACKAGED_PROMPTS
from device.prompts.making import load_prompts
from device.prompts.making import main as tool_main

RECORDED = "recording:\n  transcripts: true\n  audio: true\n  consent: required\n"
ASKED = "May I record this call? Please say yes or no."
SAID = "Hi, you are talking to a computer at the pharmacy."


def config(tmp_path: Path, conversation: str, rest: str = "", *, folder: bool = True) -> Path:
    path = tmp_path / "site.yaml"
    prompts = "  prompts_dir: prompts\n" if folder else ""
    path.write_text(f"conversation:\n{prompts}{conversation}{rest}")
    return path


def checked(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check_config(path, out, err)
    return code, err.getvalue()


def test_on_by_default_in_the_packaged_words_no_question(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, ""))
    assert settings.conversation.disclosure == DEFAULT_DISCLOSURE
    assert settings.conversation.consent_question is None
    policy = conversation_policy(settings, None, environ={})
    assert policy.disclosure is True and policy.consent is None
    lines = policy.session.extra_instructions.splitlines()
    assert lines[0] == AI_TRUTH and DEFAULT_DISCLOSURE in lines[1]
    # the default is what the packaged disclosure.wav says (make-prompts copies it)
    assert load_prompts(PACKAGED_PROMPTS / "prompts.yaml")["disclosure"] == DEFAULT_DISCLOSURE


def test_off_when_null_no_prompt_no_question_no_instruction(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, "  disclosure: null\n"))
    assert settings.conversation.disclosure is None
    policy = conversation_policy(settings, None, environ={})
    assert policy.disclosure is False and policy.consent is None
    assert AI_TRUTH not in policy.session.extra_instructions


def test_the_disclosure_and_the_truthful_ai_line(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, f"  disclosure: {SAID}\n"))
    policy = conversation_policy(settings, None, environ={})
    assert policy.disclosure is True and policy.consent is None
    lines = policy.session.extra_instructions.splitlines()
    assert lines[0] == AI_TRUTH and SAID in lines[1]
    blank = conversation_policy(
        load_settings(config(tmp_path, "  disclosure: ''\n")), None, environ={}
    )
    assert blank.disclosure is False  # empty: off


def test_the_consent_question_with_its_words(tmp_path: Path) -> None:
    text = f"  disclosure: null\n  consent_question: {ASKED}\n  consent_yes_words: [yes, sure]\n"
    settings = load_settings(config(tmp_path, text, RECORDED))
    policy = conversation_policy(settings, None, environ={})
    assert policy.consent == ConsentRule.of(["yes", "sure"], settings.conversation.consent_no_words)
    assert policy.disclosure is False  # the question alone: asked without the disclosure
    assert policy.session.extra_instructions.splitlines()[0] == AI_TRUTH
    assert ASKED in policy.session.extra_instructions
    assert checked(config(tmp_path, text, RECORDED, folder=False)) == (0, "")


@pytest.mark.parametrize(
    ("conversation", "rest", "expected"),
    [
        (
            f"  consent_question: {ASKED}\n",
            "",
            r"site.yaml:3: conversation.consent_question: is asked only with recording.audio: "
            r"true and recording.consent: required \(got audio: false, consent: not_asked\)",
        ),
        (
            f"  consent_question: {ASKED}\n",
            "recording:\n  transcripts: true\n  audio: true\n",
            r"consent_question: .*\(got audio: true, consent: not_asked\)",
        ),
        (
            f"  consent_question: {ASKED}\n",
            RECORDED + "realtime:\n  transcription:\n    enabled: false\n",
            r"conversation.consent_question: needs realtime.transcription.enabled: true",
        ),
        (
            f"  consent_question: {ASKED}\n  consent_yes_words: [yes, no]\n",
            RECORDED,
            r"conversation.consent_yes_words: 'no' is in consent_no_words too",
        ),
        (
            f"  consent_question: {ASKED}\n  consent_yes_words: ['  ']\n",
            RECORDED,
            r"conversation.consent_yes_words: must hold at least one word",
        ),
    ],
)
def test_check_config_says_when_the_consent_question_cannot_work(
    tmp_path: Path, conversation: str, rest: str, expected: str
) -> None:
    code, err = checked(config(tmp_path, conversation, rest))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(expected, err), err


def test_make_prompts_makes_the_sites_disclosure_and_consent_from_its_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = f"  disclosure: {SAID}\n  consent_question: {ASKED}\n"
    assert tool_main(["--config", str(config(tmp_path, text, RECORDED))]) == 0
    site = tmp_path / "prompts"
    for name in ("disclosure", "consent"):
        made = (site / f"{name}.wav").read_bytes()
        assert made != (PACKAGED_PROMPTS / f"{name}.wav").read_bytes(), name
        assert len(made) > 24_000, name  # speech, not an empty file
    texts = load_prompts(site / "prompts.yaml")
    assert texts["disclosure"] == SAID and texts["consent"] == ASKED
    out = capsys.readouterr().out
    assert "disclosure.wav: " in out and SAID in out and ASKED in out
    # the packaged words: the packaged WAV, byte for byte; unset: the packaged one copied
    same = config(tmp_path, "  disclosure: Hello, I'm an automated assistant.\n")
    assert tool_main(["--config", str(same), "--replace"]) == 0
    for name in ("disclosure", "consent"):
        packaged = (PACKAGED_PROMPTS / f"{name}.wav").read_bytes()
        assert (site / f"{name}.wav").read_bytes() == packaged, name


def test_make_prompts_refuses_a_disclosure_too_long_to_wait_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, "  disclosure: " + "x" * 201 + "\n")
    assert tool_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    why = "201 characters, at most 200 (a sentence or two: a caller is waiting)"
    assert err == f"{path}: conversation.disclosure: {why}"
    assert not (tmp_path / "prompts").exists()


def test_the_packaged_disclosure_says_the_recommended_words() -> None:
    texts = load_prompts(PACKAGED_PROMPTS / "prompts.yaml")
    assert texts["disclosure"] == "Hello, I'm an automated assistant."
    assert np.frombuffer((PACKAGED_PROMPTS / "disclosure.wav").read_bytes()[44:], "<i2").size > 0
