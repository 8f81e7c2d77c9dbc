"""Reserved concurrency, event-invoke configuration and account settings.

Why these sit with the registry: they are per-function (or per-qualifier) settings that persist
with the function and that the router and the async dispatcher read on every invocation.
"""

from __future__ import annotations

import time
from typing import Any

from keepwarm.config import constraint
from keepwarm.errors import InvalidParameterValue, ResourceNotFound, ServiceError
from keepwarm.registry.model import DEFAULT_MAX_AGE, DEFAULT_RETRIES, event_invoke_config
from keepwarm.registry.names import FunctionRef, parse_function_arn
from keepwarm.registry.versions import VersionOps

MIN_UNRESERVED = 100
_DESTINATION_KINDS = (":sqs:", ":sns:", ":lambda:", ":events:")


class SettingsOps(VersionOps):
    # -- concurrency ---------------------------------------------------------------------------
    async def put_concurrency(self, ref: FunctionRef, body: dict[str, Any]) -> dict[str, Any]:
        record = self.record(ref.name)
        value = body.get("ReservedConcurrentExecutions")
        if not isinstance(value, int) or isinstance(value, bool):
            raise constraint(value, "reservedConcurrentExecutions", "not be null")
        if value < 0:
            raise constraint(
                value, "reservedConcurrentExecutions", "have value greater than or equal to 0"
            )
        others = sum(r.reserved or 0 for r in self.records.values() if r is not record)
        if self.server.concurrency_limit - others - value < MIN_UNRESERVED:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        record.reserved = value
        self.runtime.router.set_reserved(record.name, value)
        await self.persist(record)
        return {"ReservedConcurrentExecutions": value}

    def get_concurrency(self, ref: FunctionRef) -> dict[str, Any]:
        record = self.record(ref.name)
        if record.reserved is None:
            return {}
        return {"ReservedConcurrentExecutions": record.reserved}

    async def delete_concurrency(self, ref: FunctionRef) -> None:
        record = self.record(ref.name)
        record.reserved = None
        self.runtime.router.set_reserved(record.name, None)
        await self.persist(record)

    def account_settings(self) -> dict[str, Any]:
        limit = self.server.concurrency_limit
        reserved = sum(r.reserved or 0 for r in self.records.values())
        total = sum(
            s.code_size for r in self.records.values() for s in (r.latest, *r.versions.values())
        )
        return {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - reserved,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(self.records)},
        }

    # -- event invoke config -------------------------------------------------------------------
    def _eic_key(self, ref: FunctionRef) -> str:
        qualifier = ref.qualifier or "$LATEST"
        self.spec_for(ref)  # the qualifier must exist
        return qualifier

    def _eic_shape(self, name: str, key: str, cfg: dict[str, Any]) -> dict[str, Any]:
        return {
            "LastModified": cfg["LastModified"],
            "FunctionArn": self.arn(name, key),
            "MaximumRetryAttempts": cfg["MaximumRetryAttempts"],
            "MaximumEventAgeInSeconds": cfg["MaximumEventAgeInSeconds"],
            "DestinationConfig": cfg["DestinationConfig"],
        }

    async def put_event_invoke_config(
        self, ref: FunctionRef, body: dict[str, Any], merge: bool = False
    ) -> dict[str, Any]:
        record = self.record(ref.name, ref.qualifier)
        key = self._eic_key(ref)
        old = record.event_invoke.get(key)
        if merge and old is None:
            raise ResourceNotFound(
                f"The function {self.arn(record.name, key)} doesn't have an EventInvokeConfig"
            )
        base = old if merge and old else event_invoke_config({})
        given = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        if not merge and all(body.get(k) is None for k in given):
            raise InvalidParameterValue(
                "You must specify at least one of error handling or destination setting."
            )
        cfg = dict(base)
        if body.get("MaximumRetryAttempts") is not None:
            cfg["MaximumRetryAttempts"] = _int_in(
                body["MaximumRetryAttempts"], "maximumRetryAttempts", 0, 2
            )
        if body.get("MaximumEventAgeInSeconds") is not None:
            cfg["MaximumEventAgeInSeconds"] = _int_in(
                body["MaximumEventAgeInSeconds"], "maximumEventAgeInSeconds", 60, 21600
            )
        if body.get("DestinationConfig") is not None:
            cfg["DestinationConfig"] = _destinations(body["DestinationConfig"], record.name)
        cfg["LastModified"] = time.time()
        record.event_invoke[key] = cfg
        await self.persist(record)
        return self._eic_shape(record.name, key, cfg)

    def get_event_invoke_config(self, ref: FunctionRef) -> dict[str, Any]:
        record = self.record(ref.name, ref.qualifier)
        key = self._eic_key(ref)
        cfg = record.event_invoke.get(key)
        if cfg is None:
            raise ResourceNotFound(
                f"The function {self.arn(record.name, key)} doesn't have an EventInvokeConfig"
            )
        return self._eic_shape(record.name, key, cfg)

    async def delete_event_invoke_config(self, ref: FunctionRef) -> None:
        self.get_event_invoke_config(ref)
        record = self.records[ref.name]
        del record.event_invoke[self._eic_key(ref)]
        await self.persist(record)

    def list_event_invoke_configs(self, ref: FunctionRef) -> dict[str, Any]:
        record = self.record(ref.name)
        return {
            "FunctionEventInvokeConfigs": [
                self._eic_shape(record.name, k, c) for k, c in sorted(record.event_invoke.items())
            ]
        }

    def _dead_letter_target(self, name: str, qualifier: str | None) -> str | None:
        """A version's own (it is part of what was published); an alias's, its version's."""
        try:
            return self.spec_for(FunctionRef(name, qualifier)).dead_letter_target
        except ServiceError:
            return None

    def async_settings(self, name: str, qualifier: str | None) -> dict[str, Any]:
        """What the dispatcher applies to one event: the qualifier's config, else defaults."""
        record = self.records.get(name)
        cfg = record.event_invoke.get(qualifier or "$LATEST") if record else None
        dlq = self._dead_letter_target(name, qualifier) if record else None
        return {
            "MaximumRetryAttempts": cfg["MaximumRetryAttempts"] if cfg else DEFAULT_RETRIES,
            "MaximumEventAgeInSeconds": cfg["MaximumEventAgeInSeconds"] if cfg else DEFAULT_MAX_AGE,
            "OnSuccess": (cfg or {})
            .get("DestinationConfig", {})
            .get("OnSuccess", {})
            .get("Destination"),
            "OnFailure": (cfg or {})
            .get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
            "DeadLetterTarget": dlq,
            "Reserved": record.reserved if record else None,
        }


def _int_in(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise constraint(value, field, "be an integer")
    if value < low:
        raise constraint(value, field, f"have value greater than or equal to {low}")
    if value > high:
        raise constraint(value, field, f"have value less than or equal to {high}")
    return value


def _destinations(config: dict[str, Any], function: str) -> dict[str, Any]:
    """Lambda's checks of a DestinationConfig; a function as its own destination would invoke
    itself without end (every record a new event), so it is refused as on Lambda."""
    out: dict[str, Any] = {"OnSuccess": {}, "OnFailure": {}}
    for key in ("OnSuccess", "OnFailure"):
        arn = (config.get(key) or {}).get("Destination")
        if not arn:
            continue
        target = parse_function_arn(arn) if ":lambda:" in arn else None
        if not any(kind in arn for kind in _DESTINATION_KINDS) or (
            ":lambda:" in arn and target is None
        ):
            raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")
        if target is not None and target.name == function:
            raise InvalidParameterValue(
                "You can't specify the function as a destination for itself."
            )
        out[key] = {"Destination": arn}
    return out
