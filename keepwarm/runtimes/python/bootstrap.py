"""The Python runtime's main loop inside an environment: Init once, then serve events forever.

Mirrors awslambdaric's loop (import the handler; then next → handle → respond/error) so
behaviour matches AWS; the transport decides only how the messages travel. Nothing here imports
the keepwarm server.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import time
from typing import Any, NoReturn, Protocol

from keepwarm.runtimes.event import Event
from keepwarm.runtimes.python.context import make_context
from keepwarm.runtimes.python.environ import remover
from keepwarm.runtimes.python.errors import FaultError, format_unhandled_log, invoke_error_payload
from keepwarm.runtimes.python.handler import load_handler
from keepwarm.runtimes.python.leaks import LeakDetector, decode_event
from keepwarm.runtimes.python.logs import install_logging
from keepwarm.runtimes.python.marshal import marshal_result, to_json, unmarshal_event

_TRACE = "_X_AMZN_TRACE_ID"
_clear_trace = remover(_TRACE)


class Transport(Protocol):
    def next(self, report: dict[str, Any] | None = None) -> Event: ...

    def respond(self, request_id: str, body: bytes, content_type: str) -> None: ...

    def error(self, request_id: str, body: bytes) -> None: ...

    def init_error(self, error_type: str, body: bytes) -> None: ...

    def send_answer(self) -> None: ...


class _Current:
    request_id = ""


def _flush() -> None:
    """Push the handler's buffered output into the log pipe before the answer leaves.

    ``try``, not ``contextlib.suppress``: this runs on every invocation, where building the
    context manager costs more than the flushes themselves.
    """
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _report(
    options: dict[str, Any], detector: LeakDetector | None = None, event: Event | None = None
) -> dict[str, Any]:
    """What the runtime tells the server after each invocation (cheap; no-op extras on AWS)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report: dict[str, Any] = {"rss_kb": max(usage, kids)}
    orc = sys.modules.get("keepwarm.orc")
    if orc is not None:
        with contextlib.suppress(Exception):  # stats must never break an environment
            report["orc"] = orc.stats.snapshot_all()
    if options.get("check_leaks") and detector is not None and event is not None:
        started = time.perf_counter()
        with contextlib.suppress(Exception):
            body = decode_event(event.body, event.content_type)
            report["leaks"] = detector.after(event.request_id, body)
        report["scan_ms"] = (time.perf_counter() - started) * 1000
    return report


def _init(transport: Transport) -> Any:
    try:
        return load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as fault:
        payload = fault.payload("")
        sys.stdout.write(format_unhandled_log(payload, init=True) + "\n")
        _flush()
        transport.init_error(fault.error_type, to_json(payload).encode())
        sys.exit(1)


def _handle(handler: Any, event: Event, transport: Transport) -> None:
    if event.trace_id:
        os.environ[_TRACE] = event.trace_id
    else:
        _clear_trace()
    try:
        context = make_context(
            event.request_id,
            event.client_context,
            event.cognito_identity,
            event.deadline_ms,
            event.invoked_arn,
            event.tenant_id,
        )
        result = handler(unmarshal_event(event.body, event.content_type), context)
        body, content_type = marshal_result(result)
    except Exception as exc:
        payload = invoke_error_payload(exc, event.request_id)
        sys.stdout.write(format_unhandled_log(payload) + "\n")
        _flush()
        transport.error(event.request_id, to_json(payload).encode())
        return
    _flush()
    transport.respond(event.request_id, body, content_type)


def main(transport: Transport, options: dict[str, Any] | None = None) -> NoReturn:
    opts = options or {}
    install_logging(lambda: _Current.request_id)
    handler = _init(transport)
    started = time.perf_counter()
    detector = _detector(opts)
    report = {"scan_ms": (time.perf_counter() - started) * 1000} if detector else None
    while True:
        event = transport.next(report)
        _Current.request_id = event.request_id
        if detector is not None:
            detector.before()
        _handle(handler, event, transport)
        _Current.request_id = ""
        if detector is not None:  # the answer leaves now: the scan is keepwarm's time
            transport.send_answer()
        report = _report(opts, detector, event)


def _detector(options: dict[str, Any]) -> LeakDetector | None:
    """Leak checking (``check_leaks``): its baseline is what Init left reachable.

    The time it takes, like each scan's, goes to the server as ``scan_ms``, which takes it out
    of Init Duration and Duration: checking must not change what a call reports.
    """
    if not options.get("check_leaks"):
        return None
    detector = LeakDetector()
    with contextlib.suppress(Exception):
        detector.after_init()
    return detector
