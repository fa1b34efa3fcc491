"""The prompt hold (device/daemon/prompt_hold.py) on its own: when it holds, when it lets
go, and what it does with the local speech detector."""

from __future__ import annotations

from device.daemon.prompt_hold import TAIL_MS, PromptHold, holds_echo
from device.vad.settings import EchoSettings


class Speaker:
    """What the hold reads of the speaker: how much is still to play."""

    def __init__(self) -> None:
        self.left_ms = 0.0

    def queued_ms(self) -> float:
        return self.left_ms


class Vad:
    def __init__(self) -> None:
        self.active = False
        self.calls: list[tuple[object, ...]] = []

    def start(self, playback: object = None, from_sample: int | None = None) -> None:
        self.active = True
        self.calls.append(("start", playback, from_sample))

    def stop(self) -> None:
        self.active = False
        self.calls.append(("stop",))


def hold_with() -> tuple[PromptHold, Speaker, Vad]:
    speaker, vad = Speaker(), Vad()
    return PromptHold(speaker, vad), speaker, vad  # type: ignore[arg-type]


def test_held_while_the_prompt_plays_and_a_tail_after_then_the_detector_stops() -> None:
    hold, speaker, vad = hold_with()
    speaker.left_ms = 1800.0
    hold.begin(4000, 0.0)
    assert hold.held and vad.calls == [("start", None, 4000)]  # nothing to pause: None
    assert not hold.lapsed(0.0)
    speaker.left_ms = 0.0  # played out: the echo is still in the air for TAIL_MS
    assert not hold.lapsed(1800.0)
    assert not hold.lapsed(1800.0 + TAIL_MS - 1)
    assert hold.lapsed(1800.0 + TAIL_MS)
    assert not hold.held and vad.calls[-1] == ("stop",) and not vad.active
    assert hold.holds == 1 and hold.claimed == 0


def test_a_second_prompt_holds_on_and_restarts_the_tail() -> None:
    hold, speaker, vad = hold_with()
    hold.begin(None, 0.0)
    assert not hold.lapsed(0.0)  # the tail starts
    speaker.left_ms = 2000.0  # the consent question, queued behind the disclosure
    hold.begin(None, 0.0)
    assert not hold.lapsed(TAIL_MS + 10)
    speaker.left_ms = 0.0
    assert not hold.lapsed(TAIL_MS + 20)
    assert hold.lapsed(2 * TAIL_MS + 20)
    assert hold.holds == 1 and [c[0] for c in vad.calls] == ["start", "stop"]


def test_the_caller_heard_over_it_ends_the_hold() -> None:
    hold, speaker, vad = hold_with()
    speaker.left_ms = 1000.0
    hold.begin(None, 0.0)
    hold.claim()
    assert not hold.held and not vad.active and hold.claimed == 1
    hold.claim()  # a late second word: counted once
    assert hold.claimed == 1


def test_a_detector_already_listening_is_left_to_its_owner() -> None:
    hold, _, vad = hold_with()
    vad.active = True  # started for a reply
    hold.begin(None, 0.0)
    assert hold.held and not hold.detecting and vad.calls == []
    hold.end()
    assert vad.active and vad.calls == []  # not stopped by the hold


def test_without_a_detector_it_holds_and_lets_go() -> None:
    speaker = Speaker()
    hold = PromptHold(speaker, None)  # type: ignore[arg-type]
    hold.begin(None, 0.0)
    assert hold.held and not hold.detecting
    assert not hold.lapsed(0.0) and hold.lapsed(TAIL_MS)


def test_which_mics_carry_the_devices_voice() -> None:
    assert holds_echo(EchoSettings(mode="reference"), True)
    assert not holds_echo(EchoSettings(mode="reference"), False)  # no detector: nothing held
    assert holds_echo(EchoSettings(mode="half_duplex"), False)
    assert not holds_echo(EchoSettings(mode="hardware"), True)
    assert not holds_echo(EchoSettings(mode="software"), True)
