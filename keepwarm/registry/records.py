"""A template's function as a registry record: one that runs, and one that cannot (``Failed``).

Why apart from the API's functions: a template function's ``$LATEST`` is its ``FunctionConfig``
read back in Lambda's words, built again at each start and each --watch reload (the template is
its source); only what the API added to it, and its published versions, are stored.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from keepwarm.config import FunctionConfig
from keepwarm.registry import code
from keepwarm.registry.model import (
    FAILED,
    LATEST,
    FunctionRecord,
    FunctionSpec,
    event_invoke_config,
)

if TYPE_CHECKING:
    from keepwarm.template import BrokenFunction

TEMPLATE_ROLE = "arn:aws:iam::000000000000:role/keepwarm-template"
_NO_CODE = base64.b64encode(hashlib.sha256(b"").digest()).decode()
_LAMBDA_FIELDS = frozenset(
    {"name", "handler", "code_dir", "runtime", "memory_mb", "timeout_s", "environment",
     "reserved_concurrency", "ephemeral_storage_mb", "version", "revision", "logging",
     "descriptive", "layer_dirs"}
)  # fmt: skip


def template_record(config: FunctionConfig, data_dir: Path | None = None) -> FunctionRecord:
    """A template function's ``$LATEST`` as a registry record; ``data_dir`` is left out of
    its code when the code directory holds it."""
    sha, size = code.directory_digest(config.code_dir, data_dir)
    described = config.descriptive
    extras = {
        k: v
        for k, v in vars(config).items()
        if k not in _LAMBDA_FIELDS and k != "provisioned_concurrency"
    }
    # With AutoPublishAlias, provisioned concurrency goes to the published version instead,
    # as SAM applies it to the alias.
    extras["provisioned_concurrency"] = (
        0 if config.auto_publish_alias else config.provisioned_concurrency
    )
    spec = FunctionSpec(
        name=config.name,
        handler=config.handler,
        runtime=config.runtime,
        role=described.role or TEMPLATE_ROLE,
        code_dir=str(config.code_dir),
        description=described.description,
        architectures=described.architectures,
        layers=described.layers,
        layer_dirs=tuple(str(p) for p in config.layer_dirs),
        layer_sha256=code.layers_digest(config.layer_dirs, data_dir),
        tracing_mode=described.tracing_mode,
        code_sha256=sha,
        code_size=size,
        timeout=config.timeout_s,
        memory=config.memory_mb,
        environment=dict(config.environment),
        ephemeral_storage=config.ephemeral_storage_mb,
        logging_config=config.logging.given(),
        dead_letter_target=config.dead_letter_target,
        extras=extras,
    )
    record = FunctionRecord(
        latest=spec,
        origin="template",
        state="Active",
        reserved=config.reserved_concurrency,
        tags=dict(described.tags),
    )
    if config.event_invoke is not None:
        given = record.template_event_invoke = event_invoke_config(config.event_invoke)
        record.event_invoke[LATEST] = given
    return record


def failed_record(broken: BrokenFunction) -> FunctionRecord:
    """A function the template defines that cannot run: listed and readable like any other,
    in Lambda's ``Failed`` state with the reason, and the Runtime and Handler the template gives
    it; it has no environments and no code, and invoking or updating it is refused with that
    reason (``base.not_active``)."""
    assert broken.name is not None
    spec = FunctionSpec(
        name=broken.name,
        handler=broken.handler,
        runtime=broken.runtime,
        role=TEMPLATE_ROLE,
        code_dir="",
        code_sha256=_NO_CODE,
        code_size=0,
    )
    return FunctionRecord(
        latest=spec,
        origin="template",
        state=FAILED,
        last_update_status=FAILED,
        state_reason=(broken.reason, broken.reason_code),
    )
