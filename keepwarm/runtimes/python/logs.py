"""Function output as the Lambda Python runtime produces it (awslambdaric 4.x).

Logs are the main way users debug functions, and tools (CloudWatch Insights queries, log
parsers in tests) match the runtime's exact line format, so this reproduces it: unbuffered
stdout/stderr, and one root-logger handler that writes
``[LEVEL]\\t<UTC time>.mmmZ\\t<request id>\\t<message>\\n`` (or JSON lines when
``AWS_LAMBDA_LOG_FORMAT=JSON``) to whatever ``sys.stdout`` is at the time.

Like awslambdaric on stdout, message text is written as is (no ``\\n`` → ``\\r`` rewriting:
that is the Node runtime), and errors raised while formatting a record reach the caller of
``logging.*`` instead of being swallowed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
JSON_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_LEVEL_ALIASES: dict[str | None, str] = {None: "", "TRACE": "DEBUG"}
_RESERVED = frozenset(
    {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    }
)  # fmt: skip
_encode_json = json.JSONEncoder(ensure_ascii=False, default=str).encode

_installed: logging.Handler | None = None
_replaced_streams: list[TextIO] = []


class _LambdaHandler(logging.Handler):
    """Writes each formatted record to the current ``sys.stdout``, as awslambdaric's sink does."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record))


class _ContextFilter(logging.Filter):
    """Stamps every record with the invocation it belongs to ("" during init)."""

    def __init__(
        self, request_id: Callable[[], str], tenant_id: Callable[[], str | None] | None
    ) -> None:
        super().__init__()
        self._request_id = request_id
        self._tenant_id = tenant_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self._request_id() or ""
        record.tenant_id = self._tenant_id() if self._tenant_id is not None else None
        return True


class _JsonFormatter(logging.Formatter):
    """awslambdaric's JSON log line: fixed keys first, then the record's extra attributes.

    Timestamps have whole seconds (``2024-06-19T23:13:05Z``), as in every awslambdaric 4.x
    release; values JSON cannot encode are written as ``str(value)``.
    """

    def __init__(self) -> None:
        super().__init__(datefmt=JSON_TIMESTAMP_FORMAT)
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        exc_info = record.exc_info if record.exc_info and record.exc_info[0] else None
        result: dict[str, Any] = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": logging.getLevelName(level),
            "message": _message(record),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info and exc_info[0] else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}"
            if exc_info
            else None,
        }
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            result["tenantId"] = tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in result:
                result[key] = value
        return _encode_json({k: v for k, v in result.items() if v is not None}) + "\n"


def install_logging(
    current_request_id: Callable[[], str],
    current_tenant_id: Callable[[], str | None] | None = None,
) -> None:
    """Set up stdout/stderr and the root logger the way the Lambda Python runtime does.

    Reads ``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL`` now (not at import) because
    the template process imports this module before a function's environment is known.
    Calling it again replaces the previous handler instead of adding a second one.
    """
    global _installed
    sys.stdout = _unbuffered(sys.stdout)
    sys.stderr = _unbuffered(sys.stderr)
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    handler = _LambdaHandler()
    handler.setFormatter(_make_formatter())
    handler.addFilter(_ContextFilter(current_request_id, current_tenant_id))
    level = level_from_env(os.environ.get("AWS_LAMBDA_LOG_LEVEL"))
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    root.addHandler(handler)
    _installed = handler


def level_from_env(value: str | None) -> str:
    """awslambdaric's reading of AWS_LAMBDA_LOG_LEVEL: TRACE means DEBUG, unknown names are
    later ignored (so the root level stays Python's default WARNING)."""
    return _LEVEL_ALIASES.get(value, value or "").upper()


def format_warning(message: str) -> str:
    """``message`` as the runtime's root handler would print a ``logging.warning`` of it.

    Returns "" when the root logger would drop a WARNING (e.g. ``AWS_LAMBDA_LOG_LEVEL=ERROR``).
    Used for the runtime's own warnings, which awslambdaric emits through the root logger.
    """
    root = logging.getLogger()
    if not root.isEnabledFor(logging.WARNING):
        return ""
    record = root.makeRecord(root.name, logging.WARNING, "", 0, message, (), None)
    handler = _installed if _installed is not None else _default_handler()
    handler.filter(record)
    return handler.format(record)


def _make_formatter() -> logging.Formatter:
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        return _JsonFormatter()
    formatter = logging.Formatter(_TEXT_FORMAT, _DATE_FORMAT)
    formatter.converter = time.gmtime
    return formatter


def _default_handler() -> logging.Handler:
    handler = _LambdaHandler()
    handler.setFormatter(_make_formatter())
    handler.addFilter(_ContextFilter(lambda: "", None))
    return handler


def _message(record: logging.LogRecord) -> Any:
    """A dict logged without arguments stays a JSON object (structured logging)."""
    if isinstance(record.msg, dict) and not record.args:
        return record.msg
    return record.getMessage()


def _unbuffered(stream: TextIO) -> TextIO:
    """A text stream whose every write reaches the fd at once, like ``python -u``.

    awslambdaric flushes after every write; a write-through wrapper over the raw fd gives the
    same visibility (a partial line is seen before a crash or timeout kill) without the extra
    flush call. The replaced stream is kept alive so its finaliser cannot close the fd.
    """
    if isinstance(stream, io.TextIOWrapper) and isinstance(stream.buffer, io.RawIOBase):
        return stream
    try:
        fd = stream.fileno()
        stream.flush()
    except (AttributeError, OSError, ValueError):
        return stream
    _replaced_streams.append(stream)
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding=getattr(stream, "encoding", None) or "utf-8",
        errors=getattr(stream, "errors", None) or "strict",
        write_through=True,
    )
