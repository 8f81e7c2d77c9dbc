"""An unbounded memo keyed by request data."""
import functools


@functools.lru_cache(maxsize=None)
def render(template_name, locale):
    return f"{template_name}:{locale}"


def handler(event, context):
    return {"html": render(event["template"], event["locale"])}
