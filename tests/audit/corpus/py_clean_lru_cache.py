"""functools.lru_cache with a maxsize: bounded memo."""
from functools import lru_cache


@lru_cache(maxsize=256)
def geocode(city):
    return {"city": city, "lat": 0.0, "lon": 0.0}


def handler(event, context):
    return geocode(event["city"])
