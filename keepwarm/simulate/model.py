"""What the simulator knows of a function and of the server running it.

Why the defaults are read off ``FunctionConfig`` and ``ServerConfig`` rather than written
again: a prediction made with the defaults is a prediction for keepwarm run with its defaults,
and stays one when they change. The checks are config's own, so a value the runtime refuses is
refused here in the same words.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from keepwarm.config import (
    FunctionConfig,
    ServerConfig,
    check_lifecycle,
    check_range,
    check_reuse,
)
from keepwarm.errors import SimulationInputError
from keepwarm.pool.scheduler import KeepAlivePolicy, reap_interval
from keepwarm.simulate.dist import Dist


def _default(cls: type[Any], name: str) -> Any:
    return {f.name: f.default for f in dataclasses.fields(cls)}[name]


@dataclass(frozen=True)
class FunctionModel:
    """A function's behaviour (how long its handler and Init take) and the settings that decide
    reuse. ``duration`` and ``init`` are seconds (fixed or drawn, seeded); ``init`` is what a
    cold start adds before the handler runs.

    ``reap_interval_s``: how often the reaper looks for expired environments; by default what
    ``keepwarm serve`` and ``Runtime`` use for this keep-alive (``scheduler.reap_interval``).
    """

    duration: Dist = field(default_factory=lambda: Dist.fixed(0.1))
    init: Dist = field(default_factory=lambda: Dist.fixed(0.2))
    timeout_s: int = _default(FunctionConfig, "timeout_s")
    keep_alive_s: float = _default(ServerConfig, "keep_alive_s")
    max_lifetime_s: float = _default(ServerConfig, "max_lifetime_s")
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    concurrency_limit: int = _default(ServerConfig, "concurrency_limit")
    max_invocations_per_env: int | None = None
    reuse: str = "always"
    reap_interval_s: float | None = None

    def __post_init__(self) -> None:
        check_range(self.timeout_s, "timeout", 1, 900)
        check_lifecycle(self.keep_alive_s, self.max_lifetime_s, self.max_invocations_per_env)
        if self.reserved_concurrency is not None:
            check_range(self.reserved_concurrency, "reservedConcurrentExecutions", 0, 1000)
        check_range(self.provisioned_concurrency, "provisionedConcurrentExecutions", 0, 1000)
        if self.concurrency_limit < 1:
            raise SimulationInputError("The concurrency limit must be at least 1.")
        check_reuse(self.reuse)
        every = self.reap_interval_s
        if every is not None and not (math.isfinite(every) and every > 0):
            raise SimulationInputError(f"reap interval {every!r} must be a finite time above 0")

    @classmethod
    def of(cls, config: FunctionConfig, **given: Any) -> FunctionModel:
        """The model of a function (from a template: ``keepwarm.template.load_template``) alone
        on a server with keepwarm's defaults: its timeout, reserved and provisioned concurrency,
        and the keep-alive, max lifetime, reuse and max invocations per environment it sets
        (``Metadata.keepwarm``); ``given`` (fields of the model) win. How long its handler and
        Init take is not in a function's definition: give ``duration`` and ``init``."""
        own = {
            "timeout_s": config.timeout_s,
            "reserved_concurrency": config.reserved_concurrency,
            "provisioned_concurrency": config.provisioned_concurrency,
            "keep_alive_s": config.keep_alive_s,
            "max_lifetime_s": config.max_lifetime_s,
            "reuse": config.reuse,
            "max_invocations_per_env": config.max_invocations_per_env,
        }
        return cls(**{k: v for k, v in own.items() if v is not None} | given)

    @property
    def policy(self) -> KeepAlivePolicy:
        return KeepAlivePolicy(self.keep_alive_s, self.max_lifetime_s)

    @property
    def reap_every_s(self) -> float:
        return self.reap_interval_s or reap_interval(self.keep_alive_s)

    def describe(self) -> dict[str, Any]:
        """The model as JSON-able settings (for ``--json`` and the text header)."""
        return {
            "duration": self.duration.text(),
            "init": self.init.text(),
            "timeout_s": self.timeout_s,
            "keep_alive_s": self.keep_alive_s,
            "max_lifetime_s": self.max_lifetime_s,
            "reserved_concurrency": self.reserved_concurrency,
            "provisioned_concurrency": self.provisioned_concurrency,
            "concurrency_limit": self.concurrency_limit,
            "max_invocations_per_env": self.max_invocations_per_env,
            "reuse": self.reuse,
            "reap_interval_s": self.reap_every_s,
        }
