"""Lambda layers through boto3 against a real ``keepwarm serve``: PublishLayerVersion and its
reads (shapes, numbering, filters, pages), Lambda's refusals in its words, and the layers a
function names (registry.layers). The messages are AWS's, as recorded in LocalStack's
AWS-validated snapshot (tests/aws/services/lambda_/test_lambda_api.snapshot.json)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_api.kw_server import Server, create, make_zip
from tests.lambda_api.test_invoke import error_of

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$"
ARN = "arn:aws:lambda:us-east-1:000000000000:layer"
OTHER = "arn:aws:lambda:us-east-1:123456789012:layer:public:3"  # another account's layer
NOT_FOUND = (404, "ResourceNotFoundException", "The resource you requested does not exist.")
SHARED = make_zip({"python/shared.py": "GREETING = 'from the layer'\n"})
USES_LAYER = """
import os

def handler(event, context):
    import shared
    return {"greeting": shared.GREETING, "file": shared.__file__, "task": os.getcwd()}
"""


def _publish(lam: Any, name: str, content: bytes = SHARED, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": content}, **kwargs
    )
    assert out.pop("ResponseMetadata")["HTTPStatusCode"] == 201
    return out


def _versions(lam: Any, name: str, **kwargs: Any) -> list[int]:
    listed = lam.list_layer_versions(LayerName=name, **kwargs)["LayerVersions"]
    return [v["Version"] for v in listed]


def _refused(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call()
    return error_of(err)


def test_publish_get_list_delete_and_numbers_never_reused(lam: Any) -> None:
    first = _publish(
        lam,
        "deps",
        Description="shared code",
        CompatibleRuntimes=["python3.12", "python3.13"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    assert first["LayerArn"] == f"{ARN}:deps"
    assert first["LayerVersionArn"] == f"{ARN}:deps:1" and first["Version"] == 1
    assert (
        first["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(SHARED).digest()).decode()
    )
    assert first["Content"]["CodeSize"] == len(SHARED)
    assert re.match(ISO, first["CreatedDate"])
    assert (first["Description"], first["LicenseInfo"]) == ("shared code", "MIT")
    assert first["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert first["CompatibleArchitectures"] == ["x86_64"]
    with urllib.request.urlopen(first["Content"]["Location"], timeout=30) as resp:
        assert resp.read() == SHARED
    second = _publish(lam, "deps", make_zip({"python/other.py": ""}))
    assert second["Version"] == 2 and second["Description"] == ""
    for absent in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
        assert absent not in second  # not given: left out, as Lambda leaves them
    assert (
        _publish(lam, "empty", CompatibleRuntimes=[], CompatibleArchitectures=[])[
            "CompatibleRuntimes"
        ]
        == []
    )  # given empty: shown empty

    got = lam.get_layer_version(LayerName="deps", VersionNumber=1)
    got.pop("ResponseMetadata")
    assert got == first
    by_arn = lam.get_layer_version_by_arn(Arn=f"{ARN}:deps:1")
    by_arn.pop("ResponseMetadata")
    assert by_arn == first
    by_layer_arn = lam.get_layer_version(LayerName=f"{ARN}:deps", VersionNumber=2)
    assert by_layer_arn["LayerVersionArn"] == f"{ARN}:deps:2"
    listed = lam.list_layer_versions(LayerName="deps")["LayerVersions"]
    assert [v["Version"] for v in listed] == [2, 1]  # newest first
    assert listed[1] == {k: first[k] for k in listed[1]} and "Content" not in listed[1]

    assert (
        lam.delete_layer_version(LayerName="deps", VersionNumber=2)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert _refused(lambda: lam.get_layer_version(LayerName="deps", VersionNumber=2)) == NOT_FOUND
    assert _refused(lambda: lam.get_layer_version_by_arn(Arn=f"{ARN}:deps:2")) == NOT_FOUND
    for name, number in (("deps", 2), ("deps", 9), ("nosuch", 1)):  # gone or never there: 204
        lam.delete_layer_version(LayerName=name, VersionNumber=number)
    assert _versions(lam, "deps") == [1]
    assert _publish(lam, "deps")["Version"] == 3  # 2 is never given again
    lam.delete_layer_version(LayerName="deps", VersionNumber=1)
    lam.delete_layer_version(LayerName="deps", VersionNumber=3)
    assert _versions(lam, "deps") == [] and _versions(lam, "nosuch") == []
    assert _publish(lam, "deps")["Version"] == 4


def test_list_layers_shows_the_latest_matching_version_and_pages(lam: Any) -> None:
    _publish(lam, "alpha", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["arm64"])
    _publish(lam, "alpha", CompatibleRuntimes=["nodejs22.x"])
    _publish(lam, "beta", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    for name in ("gamma", "delta", "epsilon"):
        _publish(lam, name)

    def latest(**filters: Any) -> dict[str, int]:
        layers = lam.list_layers(**filters)["Layers"]
        for layer in layers:
            assert layer["LayerArn"] == f"{ARN}:{layer['LayerName']}"
        return {x["LayerName"]: x["LatestMatchingVersion"]["Version"] for x in layers}

    assert latest() == {"alpha": 2, "beta": 1, "delta": 1, "epsilon": 1, "gamma": 1}
    assert latest(CompatibleRuntime="python3.12") == {"alpha": 1, "beta": 1}
    assert latest(CompatibleArchitecture="x86_64") == {"beta": 1}
    assert latest(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64") == {"alpha": 1}
    assert _versions(lam, "alpha", CompatibleRuntime="nodejs22.x") == [2]

    pages = list(lam.get_paginator("list_layers").paginate(PaginationConfig={"PageSize": 2}))
    assert [[x["LayerName"] for x in p["Layers"]] for p in pages] == [
        ["alpha", "beta"],
        ["delta", "epsilon"],
        ["gamma"],
    ]
    assert pages[0]["NextMarker"] and "NextMarker" not in pages[-1]
    for _ in range(3):
        _publish(lam, "alpha")
    paged = lam.get_paginator("list_layer_versions").paginate(
        LayerName="alpha", PaginationConfig={"PageSize": 2}
    )
    assert [[v["Version"] for v in p["LayerVersions"]] for p in paged] == [[5, 4], [3, 2], [1]]
    assert _refused(lambda: lam.list_layers(MaxItems=51))[:2] == (400, "ValidationException")


RUNTIMES_ENUM = "Member must satisfy enum value set: [custom, dotnet10,"
LAYER_PUBLISHES: list[tuple[dict[str, Any], tuple[int, str, str]]] = [
    (
        {"CompatibleRuntimes": ["invalidruntime"], "CompatibleArchitectures": ["invalidarch"]},
        (
            400,
            "ValidationException",
            "2 validation errors detected: Value '[invalidruntime]' at 'compatibleRuntimes' failed "
            f"to satisfy constraint: {RUNTIMES_ENUM}",
        ),
    ),
    (
        {"CompatibleArchitectures": ["invalidarch", "x86_64"]},
        (
            400,
            "ValidationException",
            "1 validation error detected: Value '[invalidarch, x86_64]' at "
            "'compatibleArchitectures' failed to satisfy constraint: Member must satisfy "
            "constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
        ),
    ),
    (
        {"CompatibleRuntimes": ["python3.12"] * 16},
        (
            400,
            "ValidationException",
            "1 validation error detected: Value '[" + ", ".join(["python3.12"] * 16) + "]' at "
            "'compatibleRuntimes' failed to satisfy constraint: Member must have length less "
            "than or equal to 15",
        ),
    ),
    (
        {"CompatibleArchitectures": ["x86_64", "arm64", "x86_64"]},
        (
            400,
            "ValidationException",
            "1 validation error detected: Value '[x86_64, arm64, x86_64]' at "
            "'compatibleArchitectures' failed to satisfy constraint: Member must have length "
            "less than or equal to 2",
        ),
    ),
    (
        {"Description": "d" * 257, "LicenseInfo": "l" * 513},
        (
            400,
            "ValidationException",
            f"2 validation errors detected: Value '{'d' * 257}' at 'description' failed to "
            "satisfy constraint: Member must have length less than or equal to 256; Value "
            f"'{'l' * 513}' at 'licenseInfo' failed to satisfy constraint: Member must have "
            "length less than or equal to 512",
        ),
    ),
]


@pytest.mark.parametrize(("given", "expected"), LAYER_PUBLISHES)
def test_publish_refuses_what_lambda_refuses(
    lam: Any, given: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    status, code, message = _refused(lambda: _publish(lam, "checked", **given))
    assert (status, code) == expected[:2] and message.startswith(expected[2])
    assert _versions(lam, "checked") == []  # nothing was published


def test_refusals_of_names_numbers_content_and_filters(lam: Any) -> None:
    pattern = "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:"
    status, code, message = _refused(lambda: _publish(lam, "no.dots"))
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'no.dots' at 'layerName' failed to satisfy "
        f"constraint: {pattern}"
    )
    assert _refused(lambda: _publish(lam, "x" * 141))[:2] == (400, "ValidationException")
    too_low = (400, "InvalidParameterValueException", "Layer Version Cannot be less than 1")
    assert _refused(lambda: lam.get_layer_version(LayerName="x", VersionNumber=0)) == too_low
    assert _refused(lambda: lam.delete_layer_version(LayerName="x", VersionNumber=-1)) == too_low
    assert _refused(lambda: lam.get_layer_version(LayerName="x", VersionNumber=1)) == NOT_FOUND
    other = "arn:aws:lambda:us-east-1:123456789012:layer:x"
    assert _refused(lambda: lam.get_layer_version(LayerName=other, VersionNumber=1)) == NOT_FOUND
    assert _refused(lambda: lam.get_layer_version_by_arn(Arn=f"{ARN}:x")) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{ARN}:x' at 'arn' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}"
        "((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+",
    )
    s3 = {"S3Bucket": "bucket", "S3Key": "layer.zip"}
    assert _refused(lambda: lam.publish_layer_version(LayerName="x", Content=s3)) == (
        400,
        "InvalidParameterValueException",
        "keepwarm has no S3: upload the layer as Content.ZipFile instead of S3Bucket/S3Key.",
    )
    assert _refused(lambda: _publish(lam, "x", b"not a zip")) == (
        400,
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )
    assert _refused(lambda: lam.list_layers(CompatibleRuntime="runtimedoesnotexist"))[2].startswith(
        "1 validation error detected: Value 'runtimedoesnotexist' at 'compatibleRuntime' failed "
        f"to satisfy constraint: {RUNTIMES_ENUM}"
    )
    assert _refused(lambda: lam.list_layers(CompatibleArchitecture="archdoesnotexist")) == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' "
        "failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]",
    )


def test_content_location_is_unsigned_and_tells_nothing(lam: Any) -> None:
    location = _publish(lam, "dl")["Content"]["Location"]
    base = location.rsplit("/_keepwarm/", 1)[0]
    answers = set()
    for name in ("dl", "nosuch"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/_keepwarm/layers/{name}/00.zip", timeout=30)
        answers.add((err.value.code, json.loads(err.value.read())["message"]))
    assert answers == {(400, "No such layer package.")}
    lam.delete_layer_version(LayerName="dl", VersionNumber=1)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(location, timeout=30)  # a deleted version is not served


def test_a_function_gets_the_layers_keepwarm_holds(server: Server, lam: Any) -> None:
    held = _publish(lam, "shared")["LayerVersionArn"]
    created = create(lam, "layered", Layers=[held, OTHER])
    sizes = [{"Arn": held, "CodeSize": len(SHARED)}, {"Arn": OTHER, "CodeSize": 0}]
    assert created["Layers"] == sizes
    assert lam.get_function(FunctionName="layered")["Configuration"]["Layers"] == sizes
    assert f"keepwarm: layered: layer {OTHER} is of another account: recorded, not mounted" in (
        server.stderr()
    )
    version = lam.publish_version(FunctionName="layered")["Version"]
    lam.delete_layer_version(LayerName="shared", VersionNumber=1)
    # Still attached (Lambda keeps a copy while functions refer to it), in the copy too...
    for qualifier in ("$LATEST", version):
        got = lam.get_function(FunctionName="layered", Qualifier=qualifier)["Configuration"]
        assert got["Layers"] == sizes
    assert "FunctionError" not in lam.invoke(FunctionName="layered", Qualifier=version)
    # ...but not named anew.
    gone = (400, "InvalidParameterValueException", f"Layer version {held} does not exist.")
    assert (
        _refused(lambda: lam.update_function_configuration(FunctionName="layered", Layers=[held]))
        == gone
    )
    again = _publish(lam, "shared")["LayerVersionArn"]
    updated = lam.update_function_configuration(FunctionName="layered", Layers=[again])
    assert updated["Layers"] == [{"Arn": again, "CodeSize": len(SHARED)}]


def test_layers_a_function_cannot_name(lam: Any) -> None:
    one = _publish(lam, "one")["LayerVersionArn"]
    two = _publish(lam, "one")["LayerVersionArn"]
    missing = f"{ARN}:nosuch:1"
    cases = [
        ([missing], f"Layer version {missing} does not exist."),
        ([f"{ARN}:one:7"], f"Layer version {ARN}:one:7 does not exist."),
        (
            [one, two],
            "Two different versions of the same layer are not allowed to be referenced in the "
            f"same function. {one} and {two} are versions of the same layer.",
        ),
        (
            ["arn:aws:lambda:eu-west-1:000000000000:layer:one:1"],
            "Layers are not in the same region as the function. Layers are expected to be in "
            "region us-east-1.",
        ),
        ([f"{ARN}:l{i}:1" for i in range(6)], "Cannot reference more than 5 layers."),
    ]
    for layers, message in cases:
        refused = _refused(lambda layers=layers: create(lam, "refused", Layers=layers))
        assert refused == (400, "InvalidParameterValueException", message)
    assert _refused(lambda: lam.get_function(FunctionName="refused"))[0] == 404


def test_a_python_handler_imports_from_its_layer(lam: Any) -> None:
    held = _publish(lam, "py")["LayerVersionArn"]
    create(lam, "imports", USES_LAYER, Layers=[held])
    out = lam.invoke(FunctionName="imports")
    answer = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, answer
    assert answer["greeting"] == "from the layer"
    if answer["task"] == "/var/task":  # a mount namespace: /opt is the function's, as on Lambda
        assert answer["file"] == "/opt/python/shared.py"
    else:
        assert answer["file"].endswith("/python/shared.py")


def test_layers_and_their_numbers_survive_a_restart(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "kept"
    first = start_server(data_dir=data)
    lam = first.client()
    kept = _publish(lam, "kept", Description="v1")["LayerVersionArn"]
    attached = _publish(lam, "kept", make_zip({"python/b.py": ""}))["LayerVersionArn"]
    unused = _publish(lam, "kept", make_zip({"python/c.py": ""}))
    create(lam, "user", Layers=[attached])
    lam.delete_layer_version(LayerName="kept", VersionNumber=2)
    lam.delete_layer_version(LayerName="kept", VersionNumber=3)
    first.stop()

    second = start_server(data_dir=data)
    lam = second.client()
    assert _versions(lam, "kept") == [1]
    assert lam.get_layer_version_by_arn(Arn=kept)["Description"] == "v1"
    assert lam.get_function(FunctionName="user")["Configuration"]["Layers"][0]["Arn"] == attached
    assert "FunctionError" not in lam.invoke(FunctionName="user")  # it deploys: 2's content kept
    layer_dirs = {p.name for p in (data / "layers" / "kept").iterdir() if p.is_dir()}
    unused_hex = base64.b64decode(unused["Content"]["CodeSha256"]).hex()
    assert len(layer_dirs) == 2 and unused_hex not in layer_dirs  # 3: unused, removed at start
    assert _publish(lam, "kept")["Version"] == 4


def test_a_function_whose_layer_content_is_gone_still_starts(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Content removed by hand used to stop the whole server at its next start (a function
    whose layer directory is missing cannot be deployed)."""
    data = tmp_path / "gone"
    first = start_server(data_dir=data)
    lam = first.client()
    create(lam, "survivor", Layers=[_publish(lam, "gone")["LayerVersionArn"]])
    first.stop()
    shutil.rmtree(data / "layers")
    second = start_server(data_dir=data)
    assert "FunctionError" not in second.client().invoke(FunctionName="survivor")
    assert "keepwarm: survivor:$LATEST: layer content gone, not mounted: " in second.stderr()
