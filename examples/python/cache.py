"""A module-level cache in front of a slow lookup: it only helps while the environment lives,
and each concurrent environment has its own copy ("occasionally reliable caching")."""

import db

CACHE = {}


def handler(event, context):
    item = str(event.get("item", "default"))
    cached = item in CACHE
    if not cached:
        CACHE[item] = db.find(item)
    return {"item": item, "value": CACHE[item], "cached": cached}
