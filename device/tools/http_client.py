"""The one place tools talk HTTP: an httpx client behind the ``Fetch`` of device/tools/http_tool.py.

The whole exchange (connect, send, answer) is bounded by ``timeout_s``, the answer by
``max_bytes``; redirects are not followed and no proxy comes from the environment, so the
allowlist sees every host. The host is checked against the allowlist once more on the URL
as httpx parsed it, right before the request. Failures come back as ``Fetched.error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from device.tools.http_rules import host_allowed, server_ms
from device.tools.http_tool import Fetched

log = logging.getLogger(__name__)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


class HttpClient:
    """Lazily opened httpx client; ``fetch`` never raises. Close with ``aclose``."""

    def __init__(self, allow_hosts: Iterable[str]) -> None:
        self.allow_hosts = tuple(allow_hosts)
        self._client: httpx.AsyncClient | None = None

    def open(self) -> None:
        """Open now (loading CA certificates is slow: better at start-up than on a call)."""
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: Any | None,
        timeout_s: float,
        max_bytes: int,
    ) -> Fetched:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, ValueError) as exc:
            return Fetched(error=f"not a valid URL ({_reason(exc)})")
        if target.scheme not in ("http", "https") or not host_allowed(
            target.host, self.allow_hosts
        ):
            return Fetched(error=f"host {target.host} is not on this device's allowlist")
        self.open()
        assert self._client is not None
        try:
            async with asyncio.timeout(timeout_s):
                return await self._exchange(
                    self._client, method, target, headers, body, timeout_s, max_bytes
                )
        except (TimeoutError, httpx.TimeoutException):
            return Fetched(
                error=f"the service did not answer within {timeout_s:g} s", timed_out=True
            )
        except httpx.ConnectError as exc:
            return Fetched(error=f"could not connect to the service ({_reason(exc)})")
        except httpx.HTTPError as exc:
            return Fetched(error=f"the request failed ({type(exc).__name__}: {_reason(exc)})")
        except OSError as exc:
            return Fetched(error=f"the request failed ({exc.strerror or exc})")

    @staticmethod
    async def _exchange(
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        body: Any | None,
        timeout_s: float,
        max_bytes: int,
    ) -> Fetched:
        request = client.build_request(
            method, url, headers=dict(headers), json=body, timeout=httpx.Timeout(timeout_s)
        )
        response = await client.send(request, stream=True)
        try:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                return Fetched(error=f"the answer was larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    return Fetched(error=f"the answer was larger than {max_bytes} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        return Fetched(
            status=response.status_code,
            reason=response.reason_phrase,
            body=b"".join(chunks),
            server_ms=server_ms(response.headers.get("server-timing")),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
