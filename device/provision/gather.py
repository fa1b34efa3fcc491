"""Read what one site's provisioning installs: the ``Site`` the pure plan takes.

- the config, loaded and checked as ``run`` loads it (a bad one: ``ProvisionError`` with
  exit code 2 and the loader's one-line problems); the installed copy is the site's file,
  with ``conversation.prompts_dir`` added when it is unset (``installed.py``). Its paths
  must be absolute: a relative one would mean another file once the config is installed
  in ``/etc/voice-kiosk/`` (found by loading the installed text from two folders and
  comparing the settings);
- the prompts in the site's words (espeak-ng, in a temporary folder): the packaged
  defaults and ``offline.wav`` from ``conversation.offline_message``, with their texts;
- the wake-word models the config names, from this installation's models folder (where
  ``tools/install.sh`` and ``tools/fetch_models.py`` put them);
- the packaged unit files (``device/provision/units/``, copies of ``systemd/``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from device.config.loader import ConfigError, load_settings
from device.config.settings import Settings
from device.config.yaml_source import read_text
from device.provision.installed import InstallError, installed_text
from device.provision.plan import CONFIG, CONFIG_DIR, MODELS_DIR, PROMPTS_DIR, UNIT_FILES, Site

UNITS = Path(__file__).resolve().parent / "units"
EXIT_FAILED, EXIT_CONFIG = 1, 2
FETCH = "fetch the models (tools/install.sh does: tools/fetch_models.py --dest FOLDER)"


class ProvisionError(Exception):
    """Provisioning cannot start: an exit code and one line per problem."""

    def __init__(self, code: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.code = code
        self.problems = problems


def gather(
    config: Path, *, root: Path, credential: bytes | None, models_from: Path | None = None
) -> Site:
    """The ``Site`` of ``config``, for a target tree at ``root``; or ``ProvisionError``.

    ``models_from``: the folder the pre-trained wake models are copied from (default: this
    installation's, ``device.wake.models.default_models_dir()``).
    """
    try:
        settings = load_settings(config)
        source = read_text(config)
    except ConfigError as exc:
        raise ProvisionError(EXIT_CONFIG, exc.problems) from None
    own_prompts = settings.conversation.prompts_dir is not None
    try:
        text = source if own_prompts else installed_text(source, PROMPTS_DIR)
    except InstallError as exc:
        raise ProvisionError(EXIT_CONFIG, [f"{config}: {exc}"]) from None
    relative = _relative_paths(text)
    if relative:
        raise ProvisionError(
            EXIT_CONFIG,
            [
                f"{config}: {key}: a relative path; installed as {CONFIG} it would mean "
                f"{meaning}: give the absolute path"
                for key, meaning in relative
            ],
        )
    prompts_dir = PurePosixPath(settings.conversation.prompts_dir or PROMPTS_DIR)
    models, present = _models(settings, root, models_from)
    return Site(
        config=text.encode("utf-8"),
        echo_mode=settings.audio.echo.mode,
        units=_units(),
        prompts=None if own_prompts else _prompts(settings, config),
        prompts_dir=prompts_dir,
        models=models,
        present=present,
        credential=credential,
    )


# -- relative paths --------------------------------------------------------------------------


def _relative_paths(text: str) -> list[tuple[str, str]]:
    """Keys whose paths depend on the config's folder, and what they would mean installed."""
    loaded = []
    with tempfile.TemporaryDirectory(prefix="voice-kiosk-provision-") as tmp:
        for name in ("a", "b"):
            path = Path(tmp, name, *CONFIG.parts[1:])
            path.parent.mkdir(parents=True)
            path.write_text(text, encoding="utf-8")
            try:
                loaded.append(load_settings(path))
            except ConfigError as exc:  # the added key broke it: say so, never a traceback
                raise ProvisionError(EXIT_CONFIG, exc.problems) from None
        found = _differences(loaded[0], loaded[1], "")
        base = str(Path(tmp, "a"))
    return [(key, str(value).replace(base, "", 1)) for key, value in found]


def _differences(a: Any, b: Any, key: str) -> list[tuple[str, Any]]:
    if a == b:
        return []
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return [
            d
            for f in dataclasses.fields(a)
            for d in _differences(getattr(a, f.name), getattr(b, f.name), _join(key, f.name))
        ]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{key}[{i}]")
        ]
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return [d for k in a for d in _differences(a[k], b[k], _join(key, str(k)))]
    return [(key, a)]


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


# -- prompts ---------------------------------------------------------------------------------


def _prompts(settings: Settings, config: Path) -> dict[str, bytes]:
    """The prompts folder provisioning makes: file name -> bytes (made with espeak-ng)."""
    import shutil

    from device.prompts.library import SOUNDS
    from device.prompts.making import (
        DEFAULTS_DIR,
        PROMPTS,
        SITE_PROMPT,
        PromptError,
        load_prompts,
        make,
        site_text_problems,
        site_texts,
    )

    site = site_texts(settings.conversation)  # offline always; disclosure, consent when set
    too_long = site_text_problems(config, site)
    if too_long:
        raise ProvisionError(EXIT_CONFIG, too_long)
    if shutil.which("espeak-ng") is None:
        raise ProvisionError(
            EXIT_FAILED,
            [
                f"espeak-ng is not installed (apt install espeak-ng): cannot make "
                f"{SITE_PROMPT}.wav in the site's words"
            ],
        )
    files: dict[str, bytes] = {}
    texts: dict[str, str] = {}
    try:
        packaged = load_prompts(PROMPTS)
        for name, words in [*packaged.items(), *SOUNDS.items()]:
            if name in site:
                continue
            files[f"{name}.wav"] = (DEFAULTS_DIR / f"{name}.wav").read_bytes()
            if name not in SOUNDS:
                texts[name] = words
        with tempfile.TemporaryDirectory(prefix="voice-kiosk-prompts-") as tmp:
            for name, words in site.items():
                if name != SITE_PROMPT and words == packaged.get(name):
                    files[f"{name}.wav"] = (DEFAULTS_DIR / f"{name}.wav").read_bytes()
                else:  # the site's own words (offline: always made anew)
                    made = Path(tmp, f"{name}.wav")
                    make(words, made)
                    files[made.name] = made.read_bytes()
                texts[name] = words
    except PromptError as exc:
        raise ProvisionError(EXIT_FAILED, [str(exc)]) from None
    except OSError as exc:
        raise ProvisionError(
            EXIT_FAILED, [f"{exc.filename or DEFAULTS_DIR}: cannot read: {exc.strerror}"]
        ) from None
    header = (
        f"# What each WAV in this folder says (made by voice-kiosk provision for {CONFIG}).\n"
        "# offline, disclosure and consent come from the config's conversation section;\n"
        "# provisioning again makes this\n"
        "# folder anew: a site's recordings go in a folder of its own (conversation.prompts_dir).\n"
    )
    body = yaml.safe_dump(texts, sort_keys=False, allow_unicode=True, width=1000)
    files["prompts.yaml"] = (header + body).encode("utf-8")
    return files


# -- wake-word models ------------------------------------------------------------------------


def _models(
    settings: Settings, root: Path, models_from: Path | None
) -> tuple[dict[PurePosixPath, bytes], tuple[tuple[PurePosixPath, str], ...]]:
    """Models to copy (target path -> bytes) and models that must be there already."""
    from device.wake.models import EMBEDDING_FILE, MELSPEC_FILE, default_models_dir, find_named

    wake = settings.wake
    if not wake.enabled:
        return {}, ()
    copy: dict[PurePosixPath, bytes] = {}
    present: list[tuple[PurePosixPath, str]] = []
    own = wake.models_dir is not None
    target = PurePosixPath(wake.models_dir) if wake.models_dir is not None else MODELS_DIR
    there = root / str(target).lstrip("/")
    source = models_from or default_models_dir()
    names = [MELSPEC_FILE, EMBEDDING_FILE]
    for model in wake.models:
        if model.path is not None:
            present.append((PurePosixPath(model.path), "put the site's model file there"))
        elif model.name is not None:
            found = find_named(model.name, there if own else source) or find_named(
                model.name, there
            )
            names.append(found.name if found else f"{model.name}.onnx")
    for name in dict.fromkeys(names):
        if own:
            present.append((target / name, f"put it in the site's wake.models_dir, or {FETCH}"))
        elif (source / name).is_file():
            copy[target / name] = (source / name).read_bytes()
        else:
            present.append((target / name, f"not in {source} either: {FETCH}"))
    return copy, tuple(present)


# -- the packaged unit files -----------------------------------------------------------------


def _units() -> dict[str, bytes]:
    try:
        return {name: (UNITS / name).read_bytes() for name in UNIT_FILES}
    except OSError as exc:
        raise ProvisionError(
            EXIT_FAILED,
            [f"{exc.filename}: missing from this installation of voice-kiosk (reinstall it)"],
        ) from None


__all__ = ["CONFIG_DIR", "ProvisionError", "gather"]
