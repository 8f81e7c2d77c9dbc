"""Environments on the machines of a Ray cluster, scheduled by one keepwarm server.

Why this split: the server (the head) keeps every decision (placement, warm reuse, concurrency,
throttling, reclaim) exactly as with local environments; a ``NodeAgent`` on each Ray node runs the
environments placed there as local processes (``LocalEnvironment``: same Init, timeouts, memory
limits, log lines). One Ray call per Init or invocation crosses the network; function code is
shipped once per node through Ray's object store.
"""
