"""What goes into an environment and what comes out of it.

Why a leaf module: the pool, the HTTP layer, the async queue and the CLI all pass these around,
and none of them should import another to do so.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


def request_id() -> str:
    """A random (version 4) UUID string, as Lambda's request ids are.

    Why not ``str(uuid.uuid4())``: the same 122 random bits from the kernel, without building
    a ``UUID`` object, in a third of the time; this runs on every invocation.
    """
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def trace_id() -> str:
    """An X-Ray trace header as Lambda gives every invocation without one (PassThrough
    tracing: not sampled). Runtimes expose it as ``_X_AMZN_TRACE_ID``; the X-Ray SDK and
    Powertools read it there."""
    return f"Root=1-{int(time.time()):08x}-{_bits(96):024x};Parent={_bits(64):016x};Sampled=0"


_bits = random.getrandbits  # no syscall; trace ids are unique, not secret (reseeded on fork)


class StartKind(StrEnum):
    """How the environment that served an invocation came to be ready."""

    COLD = "cold"
    WARM = "warm"
    PROVISIONED = "provisioned"


@dataclass(frozen=True)
class Invocation:
    """One request to run a function, as the runtime sees it (Runtime API /next headers)."""

    payload: bytes
    request_id: str = field(default_factory=request_id)
    invoked_arn: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str | None = field(default_factory=trace_id)
    content_type: str = "application/json"


@dataclass(frozen=True)
class LeakRecord:
    """Request data found reachable after an invocation ended (dynamic leak detection)."""

    request_id: str
    location: str
    event_field: str

    def to_dict(self) -> dict[str, str]:
        return {"requestId": self.request_id, "location": self.location, "field": self.event_field}


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: a payload or a function error, plus what Lambda reports."""

    request_id: str
    function_name: str
    payload: bytes
    function_error: str | None
    start_kind: StartKind
    env_id: str
    duration_ms: float
    billed_ms: int
    max_memory_mb: int
    memory_mb: int
    init_duration_ms: float | None = None
    logs: str = ""
    executed_version: str = "$LATEST"
    content_type: str = "application/json"
    leaks: tuple[LeakRecord, ...] = ()

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def error_type(self) -> str | None:
        """The payload's errorType when the invocation failed."""
        if self.ok:
            return None
        try:
            value = json.loads(self.payload).get("errorType")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        """The payload decoded as JSON (what ``boto3``'s ``Payload.read()`` would give, parsed)."""
        return json.loads(self.payload) if self.payload else None
