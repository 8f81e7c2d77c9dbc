"""cachetools TTLCache: bounded by size and age."""
import cachetools

PROFILES = cachetools.TTLCache(maxsize=1000, ttl=60)


def fetch_profile(user_id):
    return {"id": user_id}


def handler(event, context):
    user_id = event["pathParameters"]["id"]
    if user_id not in PROFILES:
        PROFILES[user_id] = fetch_profile(user_id)
    return PROFILES[user_id]
