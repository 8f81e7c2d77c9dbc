"""A recording sink: what the Runtime API told the environment, in order."""

from __future__ import annotations

from typing import Any

import pytest


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def runtime_next(self, report: dict[str, Any]) -> None:
        self.calls.append(("next", report))

    def runtime_response(self, request_id: str, body: bytes, content_type: str) -> None:
        self.calls.append(("response", request_id, body, content_type))

    def runtime_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self.calls.append(("error", request_id, body, error_type))

    def runtime_init_error(self, error_type: str | None, body: bytes) -> None:
        self.calls.append(("init_error", error_type, body))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()
