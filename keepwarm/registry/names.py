"""Function names, ARNs and qualifiers, parsed and validated as Lambda does.

Why here: Invoke and every control-plane operation accept the same forms (name, ``name:qual``,
partial ARN ``acct:function:name``, full ARN) and must reject the same inputs with the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keepwarm.config import constraint
from keepwarm.errors import InvalidParameterValue, ResourceNotFound

LATEST = "$LATEST"
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"(|[a-zA-Z0-9$_-]+)"
ALIAS_PATTERN = r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
_FULL = re.compile(
    r"arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):(?P<acct>\d{12}):"
    r"function:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qual>\$LATEST|[a-zA-Z0-9-_]+))?"
)
_PARTIAL = re.compile(
    r"(?P<acct>\d{12}):function:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qual>\$LATEST|[a-zA-Z0-9-_]+))?"
)
_SHORT = re.compile(r"(?P<name>[a-zA-Z0-9-_]{1,64})(?::(?P<qual>\$LATEST|[a-zA-Z0-9-_]+))?")
_VERSION = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class FunctionRef:
    """A parsed FunctionName path parameter, with the qualifier from wherever it came."""

    name: str
    qualifier: str | None

    @property
    def version_or_alias(self) -> str:
        return self.qualifier or LATEST


def parse_function(
    raw: str, query_qualifier: str | None = None, region: str | None = None
) -> FunctionRef:
    """Name, partial or full ARN, ``:qualifier``, plus ``?Qualifier=``; they must agree.

    A full ARN names its region: one other than this server's (``region``) is not a function
    here, as Lambda answers for another region's ARN. The account is not checked: a local
    server answers for any (Lambda's answer depends on the caller's permissions).
    """
    if not raw or len(raw) > 170:
        raise constraint(raw, "functionName", "have length less than or equal to 170")
    match = _FULL.fullmatch(raw) or _PARTIAL.fullmatch(raw) or _SHORT.fullmatch(raw)
    if match is None or len(match["name"]) > 64:
        raise constraint(
            raw, "functionName", f"satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        )
    derived = match["qual"]
    if query_qualifier is not None and query_qualifier != "":
        check_qualifier(query_qualifier)
        if derived is not None and derived != query_qualifier:
            raise InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        derived = query_qualifier
    if region is not None and match.re is _FULL:
        _check_region(match["region"], region)
    return FunctionRef(match["name"], derived)


def _check_region(arn_region: str, region: str) -> None:
    if arn_region != region:
        raise ResourceNotFound(
            f"Functions from '{arn_region}' are not reachable in this region ('{region}')"
        )


def check_qualifier(qualifier: str) -> None:
    if len(qualifier) > 128 or not re.fullmatch(QUALIFIER_PATTERN, qualifier):
        raise constraint(
            qualifier, "qualifier", f"satisfy regular expression pattern: {QUALIFIER_PATTERN}"
        )


def check_alias_name(name: str) -> None:
    if not name or len(name) > 128 or not re.fullmatch(ALIAS_PATTERN, name):
        raise constraint(name, "name", f"satisfy regular expression pattern: {ALIAS_PATTERN}")


def is_version(qualifier: str) -> bool:
    return bool(_VERSION.fullmatch(qualifier))


def parse_function_arn(arn: str, region: str | None = None) -> FunctionRef | None:
    """A Lambda function ARN (a destination), or None for any other kind of ARN and, given
    ``region``, for a function of another region (not one of ours, whatever its name)."""
    match = _FULL.fullmatch(arn)
    if match is None or (region is not None and match["region"] != region):
        return None
    return FunctionRef(match["name"], match["qual"])


TAGGABLE_PATTERN = (
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|"
    r"event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})"
)


def parse_taggable(resource: str, region: str) -> str:
    """The function a tag operation names: by full ARN only, and never a version or alias
    (tags belong to the function)."""
    if not 1 <= len(resource) <= 10000 or not re.fullmatch(TAGGABLE_PATTERN, resource):
        raise constraint(
            resource, "resource", f"satisfy regular expression pattern: {TAGGABLE_PATTERN}"
        )
    match = _FULL.fullmatch(resource)
    if match is None:  # a code-signing config or event source mapping: keepwarm has none
        raise ResourceNotFound(f"Resource not found: {resource}")
    _check_region(match["region"], region)
    if match["qual"] is not None:
        raise InvalidParameterValue(
            "Tags on function aliases and versions are not supported. Please specify a "
            "function ARN."
        )
    return match["name"]
