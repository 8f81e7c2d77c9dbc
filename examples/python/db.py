"""Stand-in for a slow database: every lookup costs about 200 ms."""

import time

LOOKUP_SECONDS = 0.2


def find(item):
    time.sleep(LOOKUP_SECONDS)
    return {"name": item, "length": len(item), "found_at": time.time()}
