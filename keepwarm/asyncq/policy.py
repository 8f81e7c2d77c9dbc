"""Lambda's asynchronous retry policy, with one knob to compress time for tests.

Why a time scale rather than separate test delays: the shape of the policy (1 min then 2 min
after function errors, exponential 1 s → 5 min after throttles, the max event age) stays the
one Lambda documents; ``time_scale=0.001`` just runs it a thousand times faster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from keepwarm.errors import InvalidParameterValue

TIME_SCALE_ENV = "KEEPWARM_ASYNC_TIME_SCALE"


@dataclass(frozen=True)
class RetryPolicy:
    retry_delays_s: tuple[float, ...] = (60.0, 120.0)
    throttle_base_s: float = 1.0
    throttle_max_s: float = 300.0
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.time_scale > 0:
            raise InvalidParameterValue("The async time scale must be positive.")

    def retry_delay(self, executions: int) -> float:
        """Delay before the next attempt after ``executions`` failed runs (1 → ~1 min)."""
        index = min(max(executions, 1), len(self.retry_delays_s)) - 1
        return self.retry_delays_s[index] * self.time_scale

    def throttle_delay(self, throttles: int) -> float:
        exponent = min(max(throttles - 1, 0), 30)
        delay: float = self.throttle_base_s * 2.0**exponent
        return min(delay, self.throttle_max_s) * self.time_scale

    def max_age(self, seconds: float) -> float:
        return seconds * self.time_scale

    @classmethod
    def from_env(cls, time_scale: float | None = None) -> RetryPolicy:
        if time_scale is None:
            raw = os.environ.get(TIME_SCALE_ENV)
            time_scale = float(raw) if raw else 1.0
        return cls(time_scale=time_scale)
