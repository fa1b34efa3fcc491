"""Fault switches of an emulator run as a subprocess: command-line flags and HTTP control."""

from __future__ import annotations

import asyncio
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.emulator.helpers import MANUAL, Client, client
from tests.helpers import KEY
from tools.realtime_emulator.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tools/scenarios/two-turns.yaml"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An emulator subprocess with fault flags; yields its ws:// API URL and http:// base."""
    args = [
        "--refuse",
        "503",
        "--refuse-times",
        "1",
        "--turn-fault",
        "0={close: 1011}",
        "--fault",
        "{after_ms: 3600000, expire: true}",
    ]
    with (tmp_path / "emulator.log").open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.realtime_emulator",
                "--port",
                "0",
                "--script",
                str(SCENARIO),
                *args,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "the emulator did not start within 10 s"
        line = proc.stdout.readline().strip()  # the emulator prints it once it listens
        assert line.startswith("listening on ws://"), line
        base = line.removeprefix("listening on ")
        yield base + "/v1/realtime", base.replace("ws://", "http://")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def ask(c: Client) -> None:
    await c.until("session.created")
    await c.update(**MANUAL)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    await c.send({"type": "conversation.item.create", "item": item})
    await c.send({"type": "response.create"})


async def refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as info:
        await connect(url, additional_headers={"Authorization": f"Bearer {KEY}"})
    return info.value.response.status_code


async def test_flags_script_the_faults_and_http_control_switches_them(
    emulator: tuple[str, str],
) -> None:
    url, base = emulator
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:

        async def get(path: str, **params: Any) -> dict[str, Any]:
            response = await http.get(path, params=params)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        assert await refused(url) == 503  # --refuse 503 --refuse-times 1
        state = await get("/emulator/state")
        assert state["refused"] == 1 and state["switches"]["refuse_times"] == 0
        async with client(url) as c:  # --turn-fault 0={close: 1011}
            await ask(c)
            await asyncio.wait_for(c.closed.wait(), 10)
        assert c.ws.close_code == 1011

        await get("/emulator/heal")
        async with client(url) as c:
            await ask(c)
            done = await c.until("response.done")
            assert done["response"]["status"] == "completed"
            injected = await get("/emulator/inject", fault="{close: 1001}")
            assert injected["injected"] == 1
            await asyncio.wait_for(c.closed.wait(), 10)
        assert c.ws.close_code == 1001

        await get("/emulator/configure", refuse="429")
        assert await refused(url) == 429
        bad = await http.get("/emulator/configure", params={"refuse": "200"})
        assert bad.status_code == 400
        assert "configure.refuse" in bad.json()["error"] and "\n" not in bad.json()["error"]
        await get("/emulator/configure", refuse="null")
        async with client(url) as c:
            await c.until("session.created")
        assert [f["kind"] for f in (await get("/emulator/state"))["fired"]] == ["close", "close"]


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--fault", "{close: 1011}"], "--fault[0]: missing key 'after_ms'"),
        (["--turn-fault", "7={close: 1011}"], "turns[7]: no such turn"),
        (["--turn-fault", "0={shout: 1}"], "--turn-fault 0: unknown key 'shout'"),
        (["--turn-fault", "close"], "expected N=YAML"),
        (["--refuse", "200"], "configure.refuse"),
    ],
)
def test_a_bad_fault_flag_is_one_line_and_exit_2(
    flags: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--port", "0", "--script", str(SCENARIO), *flags]) == 2
    err = capsys.readouterr().err
    assert problem in err and err.count("\n") == 1
