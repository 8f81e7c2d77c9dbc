"""``FunctionService``: the whole control plane, one object the HTTP layer calls into."""

from __future__ import annotations

from keepwarm.registry.base import Target
from keepwarm.registry.settings import SettingsOps

__all__ = ["FunctionService", "Target"]


class FunctionService(SettingsOps):
    """Functions, versions, aliases, concurrency and event-invoke configs (persisted)."""
