"""Function name / ARN / qualifier parsing, as Invoke and the control plane accept them."""

from __future__ import annotations

import pytest

from keepwarm.errors import InvalidParameterValue, ValidationError
from keepwarm.registry.names import FunctionRef, parse_function, parse_function_arn

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


@pytest.mark.parametrize(
    ("raw", "query", "expected"),
    [
        ("fn", None, FunctionRef("fn", None)),
        ("fn:live", None, FunctionRef("fn", "live")),
        ("fn:$LATEST", None, FunctionRef("fn", "$LATEST")),
        ("123456789012:function:fn", None, FunctionRef("fn", None)),
        (f"{ARN}:3", None, FunctionRef("fn", "3")),
        (ARN, "7", FunctionRef("fn", "7")),
        ("fn:7", "7", FunctionRef("fn", "7")),
        ("fn", "", FunctionRef("fn", None)),
    ],
)
def test_accepted_forms(raw: str, query: str | None, expected: FunctionRef) -> None:
    assert parse_function(raw, query) == expected


@pytest.mark.parametrize("raw", ["", "has space", "x" * 65, "fn:a:b", "arn:aws:s3:::bucket"])
def test_rejected_forms(raw: str) -> None:
    with pytest.raises(ValidationError):
        parse_function(raw)


def test_disagreeing_qualifiers() -> None:
    with pytest.raises(InvalidParameterValue, match="derived qualifier"):
        parse_function("fn:1", "2")


def test_destination_arns() -> None:
    assert parse_function_arn(f"{ARN}:live") == FunctionRef("fn", "live")
    assert parse_function_arn("arn:aws:sqs:us-east-1:123456789012:q") is None
