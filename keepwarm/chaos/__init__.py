"""Reuse chaos: run the same events under different environment-reuse patterns and compare.

The reuse modes themselves (``reuse = always | never | random:P``, ``max_invocations_per_env``)
live in the pool; this package drives them from the outside (``keepwarm audit --replay``).
"""

from __future__ import annotations

__all__ = ["ReplayReport", "read_events", "replay", "replay_async"]

from keepwarm.chaos.replay import ReplayReport, read_events, replay, replay_async
