"""Push-to-talk: the engine's steps for a turn the caller holds the button for.

While the button is held the server must not end the turn on a pause: with server turn
detection configured, the session's turn detection is switched off (`UpdateSession` with
`NoTurnDetection`) for the held turn, and everything heard is uploaded (the noise gate
held open). On release the device commits the turn (`CommitInput`) and asks for the reply
(`RequestReply`, gated), then switches the server's turn detection back on; a turn too
short to hold speech is dropped (`ClearInput`) and nothing is said.

Like steps.py: pure functions of the visitor (its `TalkButton`, device/conversation/caller.py)
and the policy; none changes the conversation's state: the engine (engine.py) decides it.

Example::

    if hold_turn(visitor, policy, out):  # pressed: the held turn starts
        ...  # the engine: LISTENING
    release_turn(visitor, True, now_ms, out)  # released: committed
    ...  # the engine asks for the reply: THINKING
    turn_detection_back(visitor, policy, out)
"""

from __future__ import annotations

import dataclasses

from device.conversation.commands import HoldUpload, SetTimer
from device.conversation.outputs import Output
from device.conversation.policy import IDLE_TIMER, ConversationPolicy
from device.conversation.reports import Note, TurnEnded
from device.conversation.steps import caller_starts
from device.conversation.visitor import Visitor
from device.realtime.commands import ClearInput, CommitInput, UpdateSession
from device.realtime.settings import NoTurnDetection


def hold_turn(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> bool:
    """The button is held and the session ready: False when a turn is held already."""
    if not v.talk.begin():
        return False
    if policy.server_turn_detection:
        spec = dataclasses.replace(policy.session, turn_detection=NoTurnDetection())
        v.outbox.send(UpdateSession(spec), out)
    caller_starts(v, None, out)
    return True


def released_early(v: Visitor, out: list[Output]) -> bool:
    """The button is released: True (noted) when it was before the session was ready
    (nothing was heard: there is no turn to end)."""
    if not v.talk.early_release():
        return False
    out.append(Note("the button was released before the session was ready"))
    return True


def release_turn(
    v: Visitor, policy: ConversationPolicy, commit: bool, now_ms: float, out: list[Output]
) -> None:
    """The button is released: the held turn is committed (``commit``: the engine asks
    for the reply next) or dropped (the caller may speak again: the idle deadline runs)."""
    v.talk.release()
    v.caller.close()
    out.append(HoldUpload(False))
    if commit:
        v.outbox.send(CommitInput(), out)
        out.append(TurnEnded(v.caller.end_turn(now_ms)))
    else:
        v.outbox.send(ClearInput(), out)
        out.append(SetTimer(IDLE_TIMER, policy.idle_timeout_ms))


def turn_detection_back(v: Visitor, policy: ConversationPolicy, out: list[Output]) -> None:
    """After a held turn: the server's own turn detection, as configured, again."""
    if policy.server_turn_detection:
        v.outbox.send(UpdateSession(policy.session), out)
