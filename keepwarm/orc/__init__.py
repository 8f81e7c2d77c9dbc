"""orc, the Occasionally Reliable Cache: module-global caching for Lambda handlers, made honest.

Imported by *function code*, so it runs unchanged on real AWS Lambda: the standard library only
(redis-py is imported lazily, and only for ``Cache(shared=...)``) and nothing from the keepwarm
server. See docs/orc.md, "How reliable is my cache?".
"""

from __future__ import annotations

from keepwarm.orc import stats
from keepwarm.orc._clock import MonotonicClock
from keepwarm.orc._policy import default_max_bytes
from keepwarm.orc.cache import Cache
from keepwarm.orc.decorator import cached

__all__ = ["Cache", "MonotonicClock", "cached", "default_max_bytes", "stats"]
