"""``FunctionService``: the whole control plane, one object the HTTP layer calls into."""

from __future__ import annotations

from keepwarm.registry.base import Target
from keepwarm.registry.tags import TagOps
from keepwarm.registry.urls import UrlOps

__all__ = ["FunctionService", "Target"]


class FunctionService(UrlOps, TagOps):
    """Functions, versions, aliases, concurrency, event-invoke configs, tags and function URLs
    (persisted)."""
