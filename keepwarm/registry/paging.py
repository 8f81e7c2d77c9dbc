"""ListFunctions and ListVersionsByFunction pages: Lambda's ``MaxItems`` and ``Marker``."""

from __future__ import annotations

from keepwarm.config import constraint
from keepwarm.errors import InvalidParameterValue
from keepwarm.registry.model import LATEST, FunctionSpec

PAGE_LIMIT = 50


def paginate(
    items: list[FunctionSpec], marker: str | None, max_items: str | None
) -> tuple[list[FunctionSpec], str | None]:
    """Marker = ``name:version`` of the first item of the page; at most 50 per page.

    ``items`` come in ``_order``; a page starts at the marker's place in that order, so an item
    deleted between two pages (the marker's own, say) neither fails the next call nor shifts it.
    """
    size = page_size(max_items)
    start = 0
    if marker:
        wanted = _marker_order(marker)
        start = next((i for i, s in enumerate(items) if _order(s) >= wanted), len(items))
    end = start + size
    return items[start:end], _marker(items[end]) if end < len(items) else None


def page_size(max_items: str | None, high: int = 10000) -> int:
    """``MaxItems`` within its model's bounds (1 to ``high``); a page holds at most 50."""
    if max_items in (None, ""):
        return PAGE_LIMIT
    try:
        size = int(max_items)
    except ValueError:
        raise constraint(max_items, "maxItems", "be an integer") from None
    if size < 1:
        raise constraint(max_items, "maxItems", "have value greater than or equal to 1")
    if size > high:
        raise constraint(max_items, "maxItems", f"have value less than or equal to {high}")
    return min(size, PAGE_LIMIT)


def _marker(spec: FunctionSpec) -> str:
    return f"{spec.name}:{spec.version}"


def _order(spec: FunctionSpec) -> tuple[str, int]:
    return spec.name, -1 if spec.version == LATEST else int(spec.version)


def _marker_order(marker: str) -> tuple[str, int]:
    name, _, version = marker.rpartition(":")
    if not name or not (version == LATEST or version.isdigit()):
        raise InvalidParameterValue(f"Invalid marker: {marker}")
    return name, -1 if version == LATEST else int(version)
