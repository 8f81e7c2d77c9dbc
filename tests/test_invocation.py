"""Request ids: version 4 UUIDs, as Lambda's are, and never repeated."""

from __future__ import annotations

import re
import uuid

from keepwarm.invocation import Invocation, request_id

SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = [request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        assert SHAPE.fullmatch(rid), rid
    parsed = [uuid.UUID(rid) for rid in ids[:1000]]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids[:1000]


def test_every_variant_nibble_and_position_varies() -> None:
    ids = [request_id().replace("-", "") for _ in range(4000)]
    for position in range(32):
        seen = {rid[position] for rid in ids}
        if position == 12:
            assert seen == {"4"}
        elif position == 16:
            assert seen == set("89ab")
        else:
            assert len(seen) == 16, position


def test_each_invocation_gets_its_own_id() -> None:
    assert Invocation(b"{}").request_id != Invocation(b"{}").request_id
