"""Log streams on disk, one per environment, with Lambda's platform lines to the byte.

Why a stream per environment: that is how CloudWatch shows Lambda logs, and it is what makes
reuse visible (every invocation one environment served, in order, in one file).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from pathlib import Path

TAIL_BYTES = 4096
CAPTURE_LIMIT = 1 << 20  # function output kept in memory per invocation (the result's logs)
DISK_LIMIT = 16 << 20  # function output written to the stream file per invocation


def log_root(data_dir: Path) -> Path:
    """Where the streams of every function of a data dir are: one directory per function."""
    return data_dir / "logs"


def stream_name(version: str, now: float | None = None) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``, as Lambda names its streams."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now if now is not None else time.time()))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def stream_file(name: str) -> str:
    """Where stream ``name`` is written, under its function's directory:
    ``YYYY/MM/DD/<version>_<32 hex>.log`` (brackets, which globs and shells treat specially,
    left out)."""
    return name.replace("[", "").replace("]", "_") + ".log"


_STREAM_FILE = re.compile(
    r"(?P<day>\d{4}/\d{2}/\d{2})/(?P<version>[^/]+)_(?P<id>[0-9a-f]{32})\.log"
)


def stream_of_file(relative: str) -> tuple[str, str] | None:
    """The stream name and version written to ``relative`` (a path under the function's
    directory, ``/``-separated), or None for a file that is not a stream."""
    match = _STREAM_FILE.fullmatch(relative)
    if match is None:
        return None
    return f"{match['day']}/[{match['version']}]{match['id']}", match["version"]


def iso_now(now: float | None = None) -> str:
    t = now if now is not None else time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def runtime_version(runtime: str) -> tuple[str, str]:
    """A stable made-up runtime version and ARN for INIT_START (AWS prints real ones)."""
    family = runtime.replace("nodejs", "nodejs:").replace(".x", "").replace("python", "python:")
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return f"{family}.v1", f"arn:aws:lambda:{{region}}::runtime:{digest}"


def init_start(runtime: str, region: str) -> str:
    version, arn = runtime_version(runtime)
    return (
        f"INIT_START Runtime Version: {version}\tRuntime Version ARN: {arn.format(region=region)}\n"
    )


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def report(
    request_id: str,
    duration_ms: float,
    billed_ms: int,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status is not None:
        line += f"Status: {status}"
        if error_type:
            line += f"\tError Type: {error_type}"
    return line + "\n"


def init_report(
    init_ms: float, phase: str, status: str | None, error_type: str | None = None
) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}"
    if status:
        line += f"\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line + "\n"


def timed_out(request_id: str, timeout_s: float, now: float | None = None) -> str:
    return f"{iso_now(now)} {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def leak(request_id: str, location: str, event_field: str) -> str:
    """keepwarm's own line for dynamic leak detection (not a Lambda line)."""
    return f"LEAK RequestId: {request_id}\tLocation: {location}\tField: {event_field}\n"


def response_refused(now: float, limit: int) -> str:
    """What Lambda's runtime clients log when the Runtime API refuses a response over 6 MB."""
    detail = (
        f'{{"errorMessage":"Exceeded maximum allowed payload size ({limit} bytes).",'
        '"errorType":"RequestEntityTooLarge"}'
    )
    return (
        f"[ERROR] [{int(now * 1000)}] LAMBDA_RUNTIME Failed to post handler success response. "
        f"Http response code: 413. {detail}\n"
    )


def runtime_exited(request_id: str, message: str, error_type: str) -> str:
    return f"RequestId: {request_id} Error: {message}\n{error_type}\n"


def truncated(limit: int, where: str) -> bytes:
    """The one line that stands in for function output dropped past a per-invocation cap."""
    return (
        f"\n[keepwarm] log output truncated: this invocation wrote more than {limit} bytes; "
        f"the rest is not in {where}\n"
    ).encode()


class LogStream:
    """One environment's log stream: an append-only file plus the invocation being captured.

    Function output is capped per invocation (from one ``begin_capture`` to the next, so output
    while idle counts against the invocation before): ``CAPTURE_LIMIT`` bytes in memory and
    ``DISK_LIMIT`` bytes on disk, each followed by one truncation marker. A function printing
    without end thus costs the server neither memory nor more than a bounded amount of disk.
    Platform lines (``line``: START, END, REPORT, ...) are never dropped. During an invocation
    they are held and written together with the next function output, at ``flush`` (a
    ``HeldLines`` flusher calls it for an invocation that outlasts its spin) or at
    ``end_capture``: a quick, quiet invocation costs one write instead of three.
    """

    def __init__(self, root: Path, function_name: str, version: str) -> None:
        self.name = stream_name(version)
        self.group = f"/aws/lambda/{function_name}"
        self.path = root / function_name / stream_file(self.name)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._capture: bytearray | None = None
        self._held = bytearray()  # platform lines not yet written (see the class docstring)
        self._captured = 0  # function output bytes seen since begin_capture (memory cap)
        self._written = 0  # the same, for the disk cap
        self._open_line = False  # the last function output did not end its line

    def write(self, data: bytes) -> None:
        """Function output (the process's stdout and stderr), subject to the caps."""
        if self._fd < 0 or not data:
            return
        self.flush()
        before, self._written = self._written, self._written + len(data)
        if before < DISK_LIMIT:
            os.write(self._fd, data[: DISK_LIMIT - before])
            self._open_line = not data.endswith(b"\n")
        if before <= DISK_LIMIT < self._written:
            os.write(self._fd, truncated(DISK_LIMIT, "this log stream"))
            self._open_line = False
        if self._capture is not None:
            before, self._captured = self._captured, self._captured + len(data)
            if before < CAPTURE_LIMIT:
                self._capture += data[: CAPTURE_LIMIT - before]
            if before <= CAPTURE_LIMIT < self._captured:
                self._capture += truncated(CAPTURE_LIMIT, "the invocation's captured log")

    def line(self, text: str) -> None:
        """A platform line: always written and captured, and always at the start of a line (on
        Lambda it is a record of its own, so output without a final newline does not run on
        into ``END``)."""
        data = text.encode()
        if self._fd < 0 or not data:
            return
        if self._open_line:
            data, self._open_line = b"\n" + data, False
        self._held += data
        if self._capture is not None:
            self._capture += data
        else:
            self.flush()

    def flush(self) -> None:
        if self._held and self._fd >= 0:
            os.write(self._fd, self._held)
        self._held.clear()

    def begin_capture(self) -> None:
        self._capture = bytearray()
        self._captured = self._written = 0

    def end_capture(self) -> str:
        self.flush()
        captured, self._capture = self._capture, None
        return captured.decode(errors="replace") if captured is not None else ""

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def tail(text: str, request_id: str, limit: int = TAIL_BYTES) -> bytes:
    """The last ``limit`` bytes of an invocation's log (what ``X-Amz-Log-Result`` carries).

    From the invocation's ``START`` line on: a cold start's Init phase (``INIT_START`` and what
    module code printed) is in the log stream but, on Lambda, not in the invocation's tail.
    """
    start = text.find(f"START RequestId: {request_id} ")
    return text[max(start, 0) :].encode()[-limit:]


FLUSH_AFTER_S = 0.01


class HeldLines:
    """Writes the platform lines of invocations that take a while, a few milliseconds late.

    Why: a log tailer must see START while a long invocation runs, but writing it the moment an
    answer is not there yet costs a write per invocation whenever several run at once (none of
    them is answered at once). Streams asking for a flush are collected and written together
    by one timer, ``FLUSH_AFTER_S`` later; an invocation ending first writes its own lines.
    """

    def __init__(self) -> None:
        self._streams: set[LogStream] = set()
        self._timer: asyncio.TimerHandle | None = None

    def flush_soon(self, stream: LogStream) -> None:
        self._streams.add(stream)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        streams, self._streams = self._streams, set()
        for stream in streams:
            stream.flush()
