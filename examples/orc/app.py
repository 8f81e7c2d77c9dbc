"""A slow lookup behind a module-level cache: first the classic dict, then the same with orc.

Deploy either handler as-is on AWS Lambda or under keepwarm (see docs/orc.md):
``handler_dict`` is what most functions do today; ``handler`` is the orc rewrite.
"""

from __future__ import annotations

import os
import time
from typing import Any

from keepwarm import orc

USERS = {"1": {"id": "1", "name": "Ann"}, "2": {"id": "2", "name": "Bo"}}


def query_db(user_id: str) -> dict[str, str] | None:
    """Stands in for a 50 ms round trip to a database."""
    time.sleep(0.05)
    return USERS.get(user_id)


# --- before: the classic pattern -------------------------------------------------------------
# Survives warm reuse, which is the point, but: grows forever (one entry per user ever seen),
# never notices that a user changed, lets every concurrent thread hit the DB on a miss, caches
# nothing for unknown users (so a scan of bad ids hammers the DB), and says nothing about how
# often it helps.

CACHE: dict[str, Any] = {}


def handler_dict(event: dict[str, Any], context: object) -> dict[str, Any]:
    user_id = str(event["user_id"])
    if user_id not in CACHE:
        CACHE[user_id] = query_db(user_id)
    return {"user": CACHE[user_id]}


# --- after: the same with orc ----------------------------------------------------------------
# Bounded (10 % of the function's memory by default), expiring (5 min; unknown ids for 30 s),
# single-flight per key, refreshed in the background for a minute after expiry, and counted.
# Set ORC_REDIS_URL to share results between environments; if Redis is down, orc falls back to
# this environment's memory and the database, and never fails the handler.


@orc.cached(ttl=300, stale_ttl=60, negative_ttl=30, shared=os.environ.get("ORC_REDIS_URL"))
def get_user(user_id: str) -> dict[str, str] | None:
    return query_db(user_id)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    user = get_user(str(event["user_id"]))
    return {"user": user, "cache": get_user.cache.stats()}  # type: ignore[attr-defined]
