"""A tiny job-status HTTP service for the demo, the tests and the bench (stdlib only).

Routes (JSON in and out):

- ``GET /jobs/{id}``: ``{job_id, status, eta, technician: {name}, notes}``; 404 if unknown;
- ``POST /jobs/{id}/notes`` ``{note}``: adds a note; ``POST /jobs/{id}/close``: closes it;
- ``GET /stock?item=...``: a shop's stock lookup ``{item, in_stock, aisle}``;
- ``POST /handover``: a hand-over webhook; what it receives is kept in ``handovers``;
- ``POST /_control`` ``{mode, delay_ms}``: switch the fault knobs of a running service.

Every answer carries ``Server-Timing: app;dur=MS``, the service's own handling time.
With a token set (``$JOB_SERVICE_TOKEN`` for the command line), every route but
``/_control`` needs ``Authorization: Bearer <token>`` (401 otherwise).

Fault knobs: ``delay_ms`` (answer late), ``mode``: ``ok``, ``500``, ``huge`` (a 1 MB JSON
answer), ``not_json`` (an HTML page).

Run it::

    python -m tools.job_status_service --port 0     # prints: listening on http://127.0.0.1:PORT

or in a test::

    with JobService(token="t0k") as service:
        service.url    # http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = ("ok", "500", "huge", "not_json")


def _jobs() -> dict[str, dict[str, Any]]:
    return {
        "4172": {
            "job_id": "4172",
            "status": "in progress",
            "eta": "14:30",
            "technician": {"name": "Sam Okafor", "phone": "+1 555 0100"},
            "site": "12 Harbour Rd",
            "notes": ["Parts ordered"],
        },
        "5188": {
            "job_id": "5188",
            "status": "waiting for parts",
            "eta": "tomorrow 09:00",
            "technician": {"name": "Ana Lima", "phone": "+1 555 0101"},
            "site": "3 Mill Lane",
            "notes": [],
        },
    }


STOCK = {
    "claw hammer": {"in_stock": 12, "aisle": "4"},
    "wood glue": {"in_stock": 0, "aisle": "7"},
    "masking tape": {"in_stock": 40, "aisle": "7"},
}


@dataclass
class Seen:
    """One request the service received (the Authorization value is never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool
    body: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class JobService:
    """The service on a loopback port, in a background thread; a context manager."""

    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    mode: str = "ok"
    delay_ms: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    handovers: list[Any] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=_jobs)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._received = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        port = self._server.server_address[1]
        return f"http://{self.host}:{port}"

    def start(self) -> JobService:
        server = _Server((self.host, self.port), _handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="job-service"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> JobService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, seen: Seen) -> None:
        with self._received:
            self.seen.append(seen)
            self._received.notify_all()

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> list[Seen]:
        """Block until ``count`` requests have arrived (or the timeout); a copy of them."""
        with self._received:
            self._received.wait_for(lambda: len(self.seen) >= count, timeout=timeout_s)
            return list(self.seen)

    def pause(self, seconds: float) -> None:
        """A delay that ends early when the service closes."""
        self._stop.wait(seconds)


def _handler(service: JobService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "job-status/1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive
        wbufsize = 64 * 1024  # headers and body leave in one write

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: tests and the bench read `seen`

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _authorized(self) -> bool:
            if service.token is None:
                return True
            given = self.headers.get("Authorization", "")
            return hmac.compare_digest(given.encode(), f"Bearer {service.token}".encode())

        def _handle(self, method: str) -> None:
            start = time.perf_counter()
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = raw.decode("utf-8", "replace")
            authorized = self._authorized()
            query = parse_qs(parts.query)
            if parts.path != "/_control":
                service.record(Seen(method, parts.path, query, authorized, body))
            status, payload = self._route(method, parts.path, query, body, authorized)
            if service.delay_ms and parts.path != "/_control":
                service.pause(service.delay_ms / 1000.0)
            mode = service.mode if parts.path != "/_control" else "ok"
            content_type = "application/json"
            if mode == "500":
                status, data = 500, b'{"error": "internal error"}'
            elif mode == "huge":
                data = json.dumps({"status": "ok", "filler": "x" * 1_000_000}).encode()
            elif mode == "not_json":
                content_type = "text/html"
                data = b"<html><body>502 Bad Gateway</body></html>"
            else:
                data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            dur = (time.perf_counter() - start) * 1000.0
            self.send_header("Server-Timing", f"app;dur={dur:.3f}")
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout test)

        def _route(
            self, method: str, path: str, query: dict[str, list[str]], body: Any, authorized: bool
        ) -> tuple[int, Any]:
            if path == "/_control" and method == "POST" and isinstance(body, dict):
                if body.get("mode", service.mode) not in MODES:
                    return 400, {"error": f"mode must be one of {', '.join(MODES)}"}
                service.mode = body.get("mode", service.mode)
                service.delay_ms = float(body.get("delay_ms", service.delay_ms))
                return 200, {"mode": service.mode, "delay_ms": service.delay_ms}
            if not authorized:
                return 401, {"error": "missing or wrong bearer token"}
            segments = [s for s in path.split("/") if s]
            if method == "POST" and segments == ["handover"]:
                service.handovers.append(body)
                return 200, {"ok": True}
            if method == "GET" and segments == ["stock"]:
                item = (query.get("item") or [""])[0].lower().strip()
                found = STOCK.get(item)
                if found is None:
                    return 404, {"error": f"no item named {item!r}"}
                return 200, {"item": item, **found}
            if len(segments) < 2 or segments[0] != "jobs":
                return 404, {"error": "no such route"}
            job = service.jobs.get(segments[1])
            if job is None:
                return 404, {"error": f"no job {segments[1]}"}
            if method == "GET" and len(segments) == 2:
                return 200, job
            if method == "POST" and segments[2:] == ["notes"]:
                note = body.get("note") if isinstance(body, dict) else None
                if not isinstance(note, str) or not note.strip():
                    return 400, {"error": "a note is needed"}
                job["notes"].append(note)
                return 201, {"job_id": job["job_id"], "notes": len(job["notes"])}
            if method == "POST" and segments[2:] == ["close"]:
                job["status"] = "closed"
                return 200, {"job_id": job["job_id"], "status": "closed"}
            return 404, {"error": "no such route"}

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.job_status_service", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--mode", choices=MODES, default="ok", help="fault knob")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="answer this much later")
    args = parser.parse_args(argv)
    token = os.environ.get("JOB_SERVICE_TOKEN") or None
    service = JobService(
        host=args.host, port=args.port, token=token, mode=args.mode, delay_ms=args.delay_ms
    )
    try:
        service.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"listening on {service.url}", flush=True)
    done.wait()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
