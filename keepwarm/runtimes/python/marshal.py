"""Event decoding and result encoding with simplejson, as the Lambda Python runtime does.

simplejson rather than ``json`` because it is what awslambdaric uses: results that contain
``Decimal`` (DynamoDB items), namedtuples or bytes inside containers serialise on AWS, and
the error texts users see (``Object of type set is not JSON serializable``) come from it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import simplejson  # type: ignore[import-untyped,unused-ignore]
from simplejson.raw_json import RawJSON  # type: ignore[import-untyped,unused-ignore]

from .environ import getter
from .errors import MARSHAL_ERROR, UNMARSHAL_ERROR, FaultError

_JSON = "application/json"
_BINARY = "application/unknown"
_ASCII_RUNTIMES = frozenset(f"AWS_Lambda_python3.{minor}" for minor in range(6, 12))


class _Encoder(simplejson.JSONEncoder):  # type: ignore[misc,unused-ignore]
    """Writes a Decimal as its exact digits; a NaN Decimal as ``NaN`` (never ``-NaN``)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return math.nan if o.is_nan() else RawJSON(str(o))
        return super().default(o)


_UNICODE_ENCODE = _Encoder(use_decimal=False, ensure_ascii=False, allow_nan=True).encode
_ASCII_ENCODE = _Encoder(use_decimal=False, ensure_ascii=True, allow_nan=True).encode
_loads = simplejson.loads
_execution_env = getter("AWS_EXECUTION_ENV")


def to_json(obj: Any) -> str:
    """Encode like awslambdaric: non-ASCII kept as is, except on python3.11-and-older runtimes.

    The runtime version is read per call because the environment (``AWS_EXECUTION_ENV``) is
    set after this module is imported by the template process.
    """
    if _execution_env() in _ASCII_RUNTIMES:
        return str(_ASCII_ENCODE(obj))
    return str(_UNICODE_ENCODE(obj))


def unmarshal_event(body: bytes, content_type: str) -> Any:
    """The handler's ``event``: decoded JSON only for exactly ``application/json``, else bytes."""
    if content_type != _JSON:
        return body
    try:
        return _loads(body)
    except Exception as exc:
        raise FaultError(UNMARSHAL_ERROR, f"Unable to unmarshal input: {exc}") from exc


def marshal_result(result: Any) -> tuple[bytes, str]:
    """The response body and its content type; ``bytes`` results pass through untouched."""
    if isinstance(result, bytes):
        return result, _BINARY
    try:
        return to_json(result).encode("utf-8"), _JSON
    except Exception as exc:
        raise FaultError(MARSHAL_ERROR, f"Unable to marshal response: {exc}") from exc
