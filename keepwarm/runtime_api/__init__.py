"""Lambda's Runtime API (2018-06-01), one endpoint per environment (contract §2).

``state`` holds the explicit, default-deny runtime state; ``handlers`` is the route table with one
small handler per endpoint; ``server`` is the minimal HTTP/1.1 listener. The environment plugs it
in through ``keepwarm.env.channel.RuntimeApiChannel``. Nothing here imports ``keepwarm.env``.
"""

from __future__ import annotations

from keepwarm.runtime_api.server import RuntimeApiServer
from keepwarm.runtime_api.state import MAX_PAYLOAD, ApiError, RState, RuntimeState, Sink
from keepwarm.runtimes.event import Event

__all__ = ["MAX_PAYLOAD", "ApiError", "Event", "RState", "RuntimeApiServer", "RuntimeState", "Sink"]
