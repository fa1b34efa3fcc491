"""The rig's reading of a recording: where a reply was cut, pauses or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.pulse import read_wav_mono
from tests.vad.rig import recorded_cut_ms
from tests.vad.sounds import make_sounds

RATE = 24000


@pytest.fixture(scope="module")
def reply(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    sounds = make_sounds(tmp_path_factory.mktemp("sounds"))
    return read_wav_mono(sounds.replies[0])[0]


def recording(*parts: np.ndarray) -> np.ndarray:
    lead = np.zeros(RATE // 4, np.int16)  # the recorder ran before the reply began
    return np.concatenate([lead, *parts, np.zeros(RATE // 2, np.int16)])


@pytest.mark.parametrize("cut_ms", [900, 1700, 2600])
def test_the_cut_is_found_after_a_pause_that_let_the_reply_go_on(
    reply: np.ndarray, cut_ms: int, tmp_path: Path
) -> None:
    cut = cut_ms * RATE // 1000
    pause = cut - RATE * 3 // 10  # paused 300 ms before the cut, for 120 ms
    played = recording(reply[:pause], np.zeros(RATE * 12 // 100, np.int16), reply[pause:cut])
    lo, hi = recorded_cut_ms(played, RATE, reply)
    assert lo - 5 <= cut_ms <= hi + 5, (lo, hi)
    plain = recorded_cut_ms(recording(reply[:cut]), RATE, reply)
    assert plain == (lo, hi)  # the same place as without the pause
