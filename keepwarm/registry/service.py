"""``FunctionService``: the whole control plane, one object the HTTP layer calls into."""

from __future__ import annotations

from keepwarm.registry.base import Target
from keepwarm.registry.tags import TagOps

__all__ = ["FunctionService", "Target"]


class FunctionService(TagOps):
    """Functions, versions, aliases, concurrency, event-invoke configs and tags (persisted)."""
