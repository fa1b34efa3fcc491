"""The LED service: frames on its own task, a state change at the next frame, a failing or
hung driver never in the loop's way, dark (or the stopped colour) at exit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from device.conversation.reports import Ready, StateChanged
from device.conversation.state import State
from device.leds.service import LedService
from device.leds.settings import LedSettings
from tests.leds.fakes import FakePorts, RecordingDriver

READY = Ready(after_ms=0.0, standby=True, offline=False)


@pytest.fixture
def driver() -> Iterator[RecordingDriver]:
    d = RecordingDriver()
    yield d
    d.release.set()  # a hung write ends with the test


async def until(driver: RecordingDriver, name: str) -> int:
    """Wait (in a thread) for a frame of pattern ``name``; its index."""
    got = await asyncio.to_thread(
        driver.wait_for, lambda frames: any(f.name == name for f in frames)
    )
    assert got, f"no {name} frame; shown: {driver.names()}"
    return next(i for i, f in enumerate(driver.frames) if f.name == name)


def service(driver: RecordingDriver, **settings: object) -> LedService:
    return LedService(LedSettings(driver="terminal", **settings), driver)  # type: ignore[arg-type]


async def test_a_state_change_shows_within_one_frame(driver: RecordingDriver) -> None:
    leds = service(driver, fps=30)
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), READY)
    leds.report(ports.now_ms(), StateChanged(State.IDLE, State.THINKING))
    await asyncio.to_thread(
        driver.wait_for, lambda frames: sum(f.name == "thinking" for f in frames) >= 5
    )
    before = len(driver.frames)
    at = time.monotonic()
    leds.report(ports.now_ms(), StateChanged(State.THINKING, State.SPEAKING))
    first = await until(driver, "speaking")
    latency_ms = (time.monotonic() - at) * 1000.0
    assert first - before <= 1  # at most the frame already on its way
    assert latency_ms < 1000.0 / 30 * 5  # a loose bound in real time; the bench measures p95
    task.cancel()
    await leds.close()


async def test_a_moving_pattern_animates_and_a_still_one_is_written_once(
    driver: RecordingDriver,
) -> None:
    leds = service(driver, fps=100)
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), READY)
    leds.report(ports.now_ms(), StateChanged(State.IDLE, State.LISTENING))
    await until(driver, "listening")
    for _ in range(5):  # wakes that change nothing: the same frame, not written again
        leds.set_echo_held(False)
        for _ in range(3):
            await asyncio.sleep(0)
    leds.report(ports.now_ms(), StateChanged(State.LISTENING, State.THINKING))
    await asyncio.to_thread(
        driver.wait_for, lambda frames: sum(f.name == "thinking" for f in frames) >= 3
    )
    assert [f.name for f in driver.frames].count("listening") == 1
    thinking = [f.pixels for f in driver.frames if f.name == "thinking"]
    assert len(set(thinking)) == len(thinking)  # each frame a step of the spin
    task.cancel()
    await leds.close()


async def test_close_shows_the_stopped_colour_and_lets_the_device_go(
    driver: RecordingDriver,
) -> None:
    leds = service(driver, stopped_colour="red", brightness=0.25)
    task = asyncio.create_task(leds.run(FakePorts()))
    leds.report(0.0, READY)
    await until(driver, "idle")
    task.cancel()  # the daemon's supervisor cancels the workers before closing services
    with pytest.raises(asyncio.CancelledError):
        await task
    await leds.close()
    await leds.close()  # idempotent
    last = driver.frames[-1]
    assert (last.name, last.pixels, last.brightness) == ("stopped", ((255, 0, 0),) * 12, 0.25)
    assert driver.closes == 1


async def test_close_goes_dark_by_default_while_the_task_still_runs(
    driver: RecordingDriver,
) -> None:
    leds = service(driver)
    task = asyncio.create_task(leds.run(FakePorts()))
    leds.report(0.0, READY)
    leds.report(0.0, StateChanged(State.IDLE, State.THINKING))
    await until(driver, "thinking")
    await leds.close()
    await asyncio.wait_for(task, 2)  # run returns once closed
    assert driver.frames[-1].name == "stopped"
    assert driver.frames[-1].pixels == ((0, 0, 0),) * 12
    assert driver.closes == 1


async def test_a_write_that_raises_is_one_log_line_and_the_driver_is_opened_again(
    driver: RecordingDriver, caplog: pytest.LogCaptureFixture
) -> None:
    leds = service(driver, retry_s=0.01)
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), READY)
    await until(driver, "idle")
    with caplog.at_level(logging.INFO, logger="device.leds"):
        driver.fail_next_show = True
        driver.fail_opens = 3  # unplugged for three attempts
        leds.report(ports.now_ms(), StateChanged(State.IDLE, State.THINKING))
        await until(driver, "thinking")  # shown once the device is back
        async with asyncio.timeout(2):
            while not leds.stats().device_ok:  # judged at the frame after a write
                await asyncio.sleep(0.01)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "leds: recording driver: unplugged; the LEDs are retried every 0.01 s (the daemon goes on)"
    ]
    assert any("recording driver is back" in r.getMessage() for r in caplog.records)
    assert (driver.opens, leds.stats().driver_failures) == (2, 4)
    assert not task.done()
    await leds.close()
    await asyncio.wait_for(task, 2)


async def test_a_hung_write_leaves_the_loop_responsive_and_frames_are_dropped(
    driver: RecordingDriver,
) -> None:
    leds = service(driver, fps=100, write_timeout_ms=20)
    ports = FakePorts()
    task = asyncio.create_task(leds.run(ports))
    leds.report(ports.now_ms(), READY)
    await until(driver, "idle")
    driver.hang.set()
    leds.report(ports.now_ms(), StateChanged(State.IDLE, State.THINKING))
    for _ in range(10):  # the loop keeps its pace while the device hangs
        at = time.monotonic()
        await asyncio.sleep(0.01)
        assert time.monotonic() - at < 0.2
    leds.report(ports.now_ms(), StateChanged(State.THINKING, State.SPEAKING))
    assert leds.stats().writes_slow == 1  # the write under way, counted while it hangs
    driver.hang.clear()
    driver.release.set()
    await until(driver, "speaking")
    assert driver.names() == ["idle", "thinking", "speaking"]  # no stale frames queued
    stats = leds.stats()
    assert stats.frames_dropped >= 9  # 100 ms of 10 ms frames fell due during the write
    assert stats.writes_slow == 1
    task.cancel()
    await leds.close()


@pytest.mark.slow
async def test_close_gives_up_on_a_hung_device_within_its_deadline(
    driver: RecordingDriver, caplog: pytest.LogCaptureFixture
) -> None:
    leds = service(driver, fps=100)
    task = asyncio.create_task(leds.run(FakePorts()))
    leds.report(0.0, READY)
    await until(driver, "idle")
    driver.hang.set()
    leds.report(0.0, StateChanged(State.IDLE, State.THINKING))
    at = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="device.leds"):
        await leds.close()  # cannot write its last frame: gives up
    assert time.monotonic() - at < 2.0
    assert "recording driver hangs" in caplog.text
    await asyncio.wait_for(task, 2)


async def test_a_device_that_never_opens_does_not_stop_close(
    driver: RecordingDriver, caplog: pytest.LogCaptureFixture
) -> None:
    driver.fail_opens = 10**6
    leds = service(driver, retry_s=0.01)
    with caplog.at_level(logging.ERROR, logger="device.leds"):
        task = asyncio.create_task(leds.run(FakePorts()))
        leds.report(0.0, READY)
        while leds.stats().driver_failures < 3:
            await asyncio.sleep(0.01)
        await leds.close()
        await asyncio.wait_for(task, 2)
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    assert driver.frames == [] and driver.closes == 0


async def test_the_night_schedule_dims_the_frames(driver: RecordingDriver) -> None:
    leds = LedService(
        LedSettings(driver="terminal", night_start="22:00", night_end="07:00"),
        driver,
        local_minutes=lambda: 23 * 60.0,
    )
    task = asyncio.create_task(leds.run(FakePorts()))
    leds.report(0.0, READY)
    await until(driver, "idle")
    assert driver.frames[0].brightness == 0.1
    task.cancel()
    await leds.close()


def test_report_before_run_is_kept() -> None:
    leds = LedService(LedSettings(driver="terminal"), RecordingDriver())
    leds.report(5.0, READY)
    leds.set_muted(True)
    assert leds.state.showing(6.0).name == "muted"
    assert isinstance(leds.stats().showing, type(None))
