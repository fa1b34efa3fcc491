"""The protocol-neutral turn layer: truncation arithmetic and the one-active-response rule."""

from __future__ import annotations

import pytest

from device.realtime.turns import ResponseGate, truncate_point

# ---- truncation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("played_ms", "received_ms", "expected"),
    [
        (0.0, 3000.0, None),  # nothing played yet
        (0.6, 3000.0, None),  # under a millisecond
        (0.0, 0.0, None),  # interrupted before any audio arrived
        (1234.9, 3000.0, 1234),  # partial: floored
        (1.0, 3000.0, 1),
        (2999.4, 3000.0, 2999),  # just short of the end
        (3000.0, 3000.0, None),  # finished: nothing unheard
        (3500.0, 3000.0, None),  # beyond received (clock drift): never past the audio
    ],
)
def test_truncate_point(played_ms: float, received_ms: float, expected: int | None) -> None:
    got = truncate_point(played_ms, received_ms)
    assert got == expected
    if got is not None:
        assert isinstance(got, int) and 1 <= got <= received_ms


# ---- the one-active-response rule --------------------------------------------------------


def test_gate_request_while_idle_sends() -> None:
    gate = ResponseGate()
    assert gate.request() is True
    assert gate.pending is False and gate.busy
    gate.on_created("r1")
    assert gate.active == "r1"
    assert gate.on_done("r1") is False
    assert gate.active is None and not gate.busy


def test_gate_request_while_active_queues_and_done_releases_once() -> None:
    gate = ResponseGate()
    assert gate.request()
    gate.on_created("r1")
    assert gate.request() is False
    assert gate.request() is False  # still one queued request, not two
    assert gate.pending
    assert gate.on_done("r1") is True  # send the queued create now
    assert gate.pending is False
    assert gate.request() is False  # the released create is in flight
    gate.on_created("r2")
    assert gate.on_done("r2") is True  # the request made while in flight
    gate.on_created("r3")
    assert gate.on_done("r3") is False


def test_gate_request_before_created_arrives_is_queued() -> None:
    gate = ResponseGate()
    assert gate.request()
    assert gate.request() is False
    gate.on_created("r1")
    assert gate.on_done("r1") is True


def test_gate_server_created_response_blocks() -> None:
    gate = ResponseGate()
    gate.on_created("r_vad")  # server VAD made a response on its own
    assert gate.active == "r_vad"
    assert gate.request() is False
    assert gate.on_done("r_vad") is True


def test_gate_rejected_active_requeues_until_done() -> None:
    gate = ResponseGate()
    assert gate.request()  # sent, but the server is already running one we have not seen
    gate.on_rejected_active()
    assert gate.pending and not gate.busy
    gate.on_created("r_vad")
    assert gate.on_done("r_vad") is True
    gate.on_created("r_ours")
    assert gate.on_done("r_ours") is False


def test_gate_rejected_active_when_the_running_one_was_known() -> None:
    gate = ResponseGate()
    gate.on_created("r1")
    assert gate.request() is False
    assert gate.on_done("r1") is True
    gate.on_rejected_active()  # a race: the server had started another one
    gate.on_created("r2")
    assert gate.on_done("r2") is True


def test_gate_done_of_another_response_keeps_the_active_one() -> None:
    gate = ResponseGate()
    gate.on_created("r2")
    assert gate.request() is False
    assert gate.on_done("r1") is False  # a stale done
    assert gate.active == "r2" and gate.pending


def test_gate_reset() -> None:
    gate = ResponseGate()
    gate.on_created("r1")
    gate.request()
    gate.reset()
    assert gate.active is None and not gate.pending and not gate.busy
    assert gate.request() is True


def test_gate_in_flight_until_created_or_refused() -> None:
    gate = ResponseGate()
    assert not gate.in_flight
    assert gate.request()
    assert gate.in_flight and gate.active is None  # sent, not yet answered
    gate.on_created("r1")
    assert not gate.in_flight
    assert gate.on_done("r1") is False
    assert gate.request()
    gate.on_rejected_active()
    assert not gate.in_flight and gate.pending  # refused: waits for the running one
    gate.on_created("r_vad")
    assert gate.on_done("r_vad") is True
    assert gate.in_flight  # the released request counts as sent
