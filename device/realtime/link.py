"""The websockets adapter of the Realtime link: one connection, frames in and out.

All protocol knowledge lives in the codec (device/realtime/codec.py; GA in
device/realtime/ga/); this module only moves frames: commands go out through
``codec.encode``, frames come in through ``codec.decode``. No reconnect here: a caller that
wants one opens a new link.

Example::

    async with await RealtimeLink.connect(rt.url, rt.model, key) as link:
        await link.send(UpdateSession(SessionSpec(rt), event_id="dev_1"))
        async for event in link.events():
            ...
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import urllib.parse
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidStatus,
    InvalidURI,
    WebSocketException,
)

from device.common.logfold import RepeatFolder
from device.common.text import one_line
from device.realtime.codec import Codec, ProtocolError
from device.realtime.commands import LinkCommand
from device.realtime.events import ServerEvent
from device.realtime.ga import GaCodec

log = logging.getLogger(__name__)

FrameHook = Callable[[str, str | bytes], None]
"""``on_frame(direction, frame)``: direction is "client" or "server"; for capture and debug."""


class LinkError(Exception):
    """The link could not be opened or used; the message is one line, without secrets.

    ``status`` is the HTTP status of a refused handshake; ``retry_after_s`` the server's
    Retry-After; ``network`` is True when the server could not be reached at all.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        network: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.network = network


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After")
        return None if value is None else min(max(float(value), 0.0), 3600.0)
    except (TypeError, ValueError, AttributeError):
        return None


RETRYABLE_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1015})
"""Close codes after which a new session is worth opening (1011: also a ping timeout)."""

BROKEN_BY_SERVER = {
    1002: "the server broke the WebSocket protocol",
    1007: "the server sent invalid UTF-8",  # a text frame (or close reason) not UTF-8
}
"""Close codes the device sends when the server's frames break the rules: the device, not
the server, ended the connection, and the server is to blame."""


def _broken_by_server(exc: ConnectionClosed) -> tuple[int, str] | None:
    """(code, what the server did) when the device closed because of the server's frames."""
    sent = exc.sent
    if sent is None or sent.code not in BROKEN_BY_SERVER or exc.rcvd_then_sent:
        return None
    what = BROKEN_BY_SERVER[sent.code]
    if sent.code == 1002 and sent.reason:
        what += f": {one_line(sent.reason, 80)}"
    return sent.code, what


class _Revealable(Protocol):
    def reveal(self) -> str: ...


class _RedactAuthorization(logging.Filter):
    """websockets logs handshake headers at debug level: never let the key through."""

    _SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and str(args[0]).lower() in self._SECRET_HEADERS
        ):
            record.args = (args[0], "[redacted]")
        return True


def _ws_logger() -> logging.Logger:
    logger = logging.getLogger(f"{__name__}.websockets")
    if not any(isinstance(f, _RedactAuthorization) for f in logger.filters):
        logger.addFilter(_RedactAuthorization())
    return logger


def with_model(url: str, model: str) -> str:
    """``url`` with ``?model=MODEL`` added, unless it names a model already."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    if "model" in query or not model:
        return url
    extra = urllib.parse.urlencode({"model": model})
    return urllib.parse.urlunsplit(
        parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
    )


def _display(url: str) -> str:
    """The URL without query or user info, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return repr(url[:80])
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    text = " ".join(str(exc).split())
    if "Connect call failed" in text and "Multiple exceptions" in text:
        return "connection refused"  # every address of the host refused
    return exc.strerror or text or type(exc).__name__


def _noting_tcp(opened: list[bool]) -> type[ClientConnection]:
    """A ClientConnection class that appends to ``opened`` once its TCP connection is up,
    so a timeout can tell an unreachable server from one that never answers the handshake."""

    class _Noting(ClientConnection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            opened.append(True)
            super().connection_made(transport)

    return _Noting


class RealtimeLink:
    """One open Realtime WebSocket: ``send`` client events, iterate ``events()``.

    Use `RealtimeLink.connect` to open one. After ``events()`` ends (the server closed
    the connection, normally or not), ``close_code`` and ``close_reason`` say why;
    ``malformed`` counts the frames skipped as unusable. ``close()`` is idempotent.
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        codec: Codec | None = None,
        on_frame: FrameHook | None = None,
    ) -> None:
        self._ws = ws
        self.codec: Codec = codec if codec is not None else GaCodec()
        self._on_frame = on_frame
        self._skipped = RepeatFolder(log, "skipped a malformed server event")
        self.malformed = 0
        self.close_code: int | None = None
        self.close_reason: str = ""

    @classmethod
    async def connect(
        cls,
        url: str,
        model: str,
        api_key: _Revealable | str | None,
        *,
        timeout_s: float = 10,
        ping_interval_s: float | None = 0.5,
        ping_timeout_s: float | None = 1.0,
        codec: Codec | None = None,
        on_frame: FrameHook | None = None,
    ) -> RealtimeLink:
        """Open the link; `LinkError` with one line if the server cannot be reached or says no.

        ``api_key`` is a str or a secret with ``.reveal()``; None sends no Authorization
        header (a local emulator). ``?model=MODEL`` is added unless ``url`` names one.
        A WebSocket ping goes out every ``ping_interval_s``; no pong within
        ``ping_timeout_s`` closes the link, so a silent server or a pulled cable is noticed
        within about 1.6 s (a ping interval, the pong deadline, 0.1 s to close).
        """
        headers: dict[str, str] = {}
        if api_key is not None:
            key = api_key if isinstance(api_key, str) else api_key.reveal()
            headers["Authorization"] = f"Bearer {key}"
        target = with_model(url, model)
        where = _display(url)
        tcp_open: list[bool] = []  # set once the TCP connection is up (then the handshake)
        try:
            ws = await connect(
                target,
                additional_headers=headers,
                max_size=None,
                open_timeout=timeout_s,
                ping_interval=ping_interval_s,
                ping_timeout=ping_timeout_s,
                close_timeout=0.1,  # a dead peer does not answer the closing handshake
                logger=_ws_logger(),
                create_connection=_noting_tcp(tcp_open),
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            phrase = exc.response.reason_phrase
            raise LinkError(
                f"server rejected the connection: HTTP {status}"
                + (f" {one_line(phrase, 60)}" if phrase else "")
                + (" (check the API key)" if status in (401, 403) else ""),
                status=status,
                retry_after_s=_retry_after(exc.response.headers),
            ) from None
        except InvalidURI:
            raise LinkError(f"invalid realtime url {where}: not a ws:// or wss:// URL") from None
        except TimeoutError:
            if tcp_open:  # reachable, but silent: not the network's fault
                raise LinkError(
                    f"no handshake answer in {timeout_s:g} s from {where} "
                    "(it accepted the connection)"
                ) from None
            raise LinkError(
                f"cannot reach {where}: no answer within {timeout_s:g} s", network=True
            ) from None
        except OSError as exc:
            raise LinkError(f"cannot reach {where}: {_os_reason(exc)}", network=True) from None
        except WebSocketException as exc:
            detail = " ".join(str(exc).split())[:200]
            raise LinkError(f"handshake with {where} failed: {detail}") from None
        log.info("realtime link open to %s (model %s)", where, model)
        return cls(ws, codec=codec, on_frame=on_frame)

    async def send(self, command: LinkCommand) -> None:
        """Send one command as a client frame; `LinkError` if the connection is closed."""
        frame = self.codec.encode(command)
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            what = self.codec.describe(command)
            raise LinkError(f"cannot send {what!r}: connection closed ({exc})") from None
        if self._on_frame is not None:
            self._on_frame("client", frame)

    async def events(self) -> AsyncIterator[ServerEvent]:
        """Typed server events until the connection closes (iterate once).

        A frame the codec cannot use, however it fails, is skipped with one warning
        (repeats folded into one line with a count) and counted in ``malformed``; the
        events after it still arrive. A frame the WebSocket layer itself refuses (a text
        frame that is not UTF-8: the device closes with 1007) ends the link: the
        iteration raises `LinkError` ("the link closed: the server sent invalid UTF-8
        (1007)"), with ``close_code`` 1007, instead of ending as if the server had closed.
        """
        ws = self._ws
        broken: tuple[int, str] | None = None
        try:
            while True:
                try:
                    frame = await ws.recv()
                except ConnectionClosed as exc:
                    broken = _broken_by_server(exc)
                    break
                if self._on_frame is not None:
                    self._on_frame("server", frame)
                try:
                    event = self.codec.decode(frame)
                except ProtocolError as exc:
                    self.malformed += 1
                    self._skipped.warn(one_line(str(exc)))
                    continue
                yield event
        finally:
            self._skipped.flush()
        self._record_close(broken)
        if broken is not None:
            code, what = broken
            raise LinkError(f"the link closed: {what} ({code})")

    def _record_close(self, broken: tuple[int, str] | None = None) -> None:
        if broken is not None:  # the device closed it, for what the server sent
            self.close_code, self.close_reason = broken
            log.warning("realtime link closed: %s (%s)", self.close_reason, self.close_code)
            return
        self.close_code = self._ws.close_code
        self.close_reason = self._ws.close_reason or ""
        level = logging.INFO if self.close_code in (1000, 1001) else logging.WARNING
        log.log(
            level,
            "realtime link closed: code %s%s",
            self.close_code,
            f" ({one_line(self.close_reason)})" if self.close_reason else "",
        )

    async def close(self) -> None:
        """Close the connection (idempotent); a close already recorded by ``events()`` stays."""
        await self._ws.close()
        if self.close_code is None:
            self.close_code = self._ws.close_code
            self.close_reason = self._ws.close_reason or ""

    async def __aenter__(self) -> RealtimeLink:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
