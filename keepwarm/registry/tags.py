"""Tags: TagResource, UntagResource and ListTags.

Why apart from the function operations: a tag call names its function by full ARN only and
never a version or alias, and a template function's tags are its template's with the API's
changes kept over them (across restarts and template reloads), like its event-invoke configs.
"""

from __future__ import annotations

from typing import Any

from keepwarm.config import constraint
from keepwarm.registry import inputs
from keepwarm.registry.model import FunctionRecord, change_tags, tags_after
from keepwarm.registry.names import parse_taggable
from keepwarm.registry.settings import SettingsOps


class TagOps(SettingsOps):
    def _tagged(self, resource: str) -> FunctionRecord:
        return self.record(parse_taggable(resource, self.server.region))

    def list_tags(self, resource: str) -> dict[str, Any]:
        return {"Tags": dict(self._tagged(resource).tags)}

    async def tag(self, resource: str, body: dict[str, Any]) -> None:
        given = inputs.require(body, "Tags", "tags")
        record = self._tagged(resource)
        tags = inputs.check_tags(given)
        inputs.check_tag_count(tags_after(record.tags, dict(tags)))  # what it has counts too
        change_tags(record, dict(tags))
        await self.persist(record)

    async def untag(self, resource: str, keys: list[str]) -> None:
        if not keys:
            raise constraint(None, "tagKeys", "not be null")
        inputs.check_tag_keys(keys)
        record = self._tagged(resource)
        change_tags(record, dict.fromkeys(k for k in keys if k in record.tags))
        await self.persist(record)
