"""check-config under a seeded generator: the example configs and the reference, mutated at
every key with wrong types and odd values. Whatever the file, the answer is exit 0 or 2,
one line per problem starting ``FILE:LINE: key.path:`` or ``FILE:``, never a traceback,
never a secret, and fast."""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from device.config.loader import check_config

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *sorted((ROOT / "firmware_config/examples").glob("*.yaml")),
    ROOT / "firmware_config/default.yaml",
]
SECRET = "sk-proj-FUZZSECRET9876543210"
TAG = "TAGGED-VALUE-HERE"  # replaced in the text by a YAML tag the dumper cannot write
PER_KEY = 2  # mutations per key path (seeded): ~700 files in all
SEED = 12

ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1e308,
    -1e308,
    1e-300,
    float("nan"),
    "",
    "   ",
    "line\nbreak",
    "nul\0byte",
    "x" * 5000,
    [],
    {},
    [1, [2, [3, [4]]]],
    {"a": {"b": {"c": 1}}},
    "https://[::1/x",
    "ftp://example.com/{}",
    "{credential:x}",
    "../../etc/passwd",
    "/proc/x/y",
    "/dev/zero",
    "/etc/hostname/x",
    "wss://host:99999/x",
    "*.",
    TAG,
]
TAGS = [
    "!!float fast",
    "!!int forty",
    "!!bool maybe",
    "!!python/name:os.system",
    "!env X",
    "!!binary AAAA",
]
SECRET_VALUES: list[Any] = [SECRET, [f"Bearer {SECRET}"], {"v": SECRET}, [[SECRET]]]


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path of the data: mapping keys and list indices."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


def mutated(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (mutated(v, rest, value) if k == head else v) for k, v in data.items()}
    return [mutated(v, rest, value) if i == head else v for i, v in enumerate(data)]


def at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def variants(data: Any, rng: random.Random) -> Iterator[tuple[str, Any, str | None]]:
    """(what, mutated data, tag text or None) for every key path of ``data``."""
    for path in paths(data):
        name = ".".join(map(str, path))
        for value in rng.sample(ODD, PER_KEY):
            tag = rng.choice(TAGS) if value == TAG else None
            yield f"{name}={value!r:.40}", mutated(data, path, value), tag
        target = at(data, path)
        if isinstance(target, dict):
            key = rng.choice(["api_key", "token", "Authorization", "password", "clientSecret"])
            extra = {**target, key: rng.choice(SECRET_VALUES)}
            if "name" in target and "value" in target:  # a header: its value is the secret
                extra = {"name": "Authorization", "value": rng.choice(SECRET_VALUES)}
            yield f"{name}+secret", mutated(data, path, extra), None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree like the checkout's, so the examples' relative paths resolve."""
    top = tmp_path_factory.mktemp("site")
    (top / "firmware_config/examples").mkdir(parents=True)
    (top / "tools").symlink_to(ROOT / "tools")
    return top


DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
LINE = r"(:\d+: [^:\n]+: |: ).+"


def test_mutated_configs_are_answered_in_one_line_per_problem(site: Path) -> None:
    rng = random.Random(SEED)
    runs, slowest, start = 0, 0.0, time.perf_counter()
    failures: list[str] = []
    for source in SOURCES:
        data = yaml.safe_load(source.read_text())
        target = site / "firmware_config/examples" / source.name
        for what, changed, tag in variants(data, rng):
            text = yaml.dump(changed, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=200)
            if tag is not None:
                text = text.replace(TAG, tag)
            target.write_text(text)
            out, err = io.StringIO(), io.StringIO()
            began = time.perf_counter()
            code = check_config(target, out, err)
            took = time.perf_counter() - began
            slowest = max(slowest, took)
            runs += 1
            lines = (out.getvalue() + err.getvalue()).splitlines()
            pattern = re.compile(re.escape(str(target)) + LINE)
            bad = [line for line in lines if not pattern.fullmatch(line)]
            if (
                code not in (0, 2)
                or bad
                or not lines
                or (code == 0) != (err.getvalue() == "")
                or SECRET in out.getvalue() + err.getvalue()
                or "Traceback" in err.getvalue()
                or took > 1.0
            ):
                failures.append(f"{source.name} {what}: exit {code} in {took:.2f} s: {lines[:3]}")
    total = time.perf_counter() - start
    assert failures == []
    assert runs > 500  # every key of five files, each mutated more than once
    assert total < 60, f"{runs} files in {total:.1f} s (slowest {slowest:.2f} s)"
