"""The control plane with boto3: shapes, status codes, waiters, pagination (contract §5)."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_api.kw_server import COUNTER, ROLE, Server, create, make_zip
from tests.lambda_api.test_invoke import error_of

FAST = {"Delay": 0.05, "MaxAttempts": 400}
ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$"


def test_lifecycle_create_update_delete(lam: Any) -> None:
    source = make_zip({"app.py": COUNTER})
    created = lam.create_function(
        FunctionName="life",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": source},
        Environment={"Variables": {"MY_A": "1", "MY_B": "2"}},
        Description="d",
        Timeout=5,
        MemorySize=256,
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(source).digest()).decode()
    assert created["CodeSize"] == len(source)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:life"
    assert created["Version"] == "$LATEST" and created["State"] == "Pending"
    assert (created["Timeout"], created["MemorySize"], created["Description"]) == (5, 256, "d")
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert created["LoggingConfig"]["LogGroup"] == "/aws/lambda/life"
    import re

    assert re.match(ISO, created["LastModified"])
    lam.get_waiter("function_active_v2").wait(FunctionName="life", WaiterConfig=FAST)
    lam.get_waiter("function_exists").wait(FunctionName="life", WaiterConfig=FAST)
    got = lam.get_function(FunctionName="life")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    first = json.loads(lam.invoke(FunctionName="life")["Payload"].read())
    assert first["env"] == {"MY_A": "1", "MY_B": "2"} and first["count"] == 1

    updated = lam.update_function_configuration(
        FunctionName="life", Environment={"Variables": {"MY_C": "3"}}
    )
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["RevisionId"] != got["Configuration"]["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="life", WaiterConfig=FAST)
    second = json.loads(lam.invoke(FunctionName="life")["Payload"].read())
    assert second["env"] == {"MY_C": "3"}  # replaced wholesale
    assert second["count"] == 1 and second["pid"] != first["pid"]  # fresh environment

    v2 = COUNTER.replace('os.environ.get("CODE_VERSION", "1")', '"2"')
    lam.update_function_code(FunctionName="life", ZipFile=make_zip({"app.py": v2}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="life", WaiterConfig=FAST)
    third = json.loads(lam.invoke(FunctionName="life")["Payload"].read())
    assert third["version"] == "2" and third["count"] == 1 and third["env"] == {"MY_C": "3"}

    deleted = lam.delete_function(FunctionName="life")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName="life")
    assert error_of(err)[:2] == (404, "ResourceNotFoundException")


def test_revision_id_guard(lam: Any) -> None:
    create(lam, "rev")
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(FunctionName="rev", Timeout=9, RevisionId="nope")
    assert error_of(err)[:2] == (412, "PreconditionFailedException")
    rev = lam.get_function_configuration(FunctionName="rev")["RevisionId"]
    assert (
        lam.update_function_configuration(FunctionName="rev", Timeout=9, RevisionId=rev)["Timeout"]
        == 9
    )


def test_publishing_gives_latest_a_new_revision(lam: Any) -> None:
    """As on Lambda (LocalStack's AWS-validated revision tests): a RevisionId read before a
    PublishVersion no longer guards an update; creating an alias changes no revision."""
    create(lam, "pubrev")
    rev = lam.get_function_configuration(FunctionName="pubrev")["RevisionId"]
    version = lam.publish_version(FunctionName="pubrev", RevisionId=rev)
    latest = lam.get_function_configuration(FunctionName="pubrev")["RevisionId"]
    assert len({rev, version["RevisionId"], latest}) == 3
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(FunctionName="pubrev", Timeout=9, RevisionId=rev)
    assert error_of(err)[:2] == (412, "PreconditionFailedException")
    lam.create_alias(FunctionName="pubrev", Name="a", FunctionVersion="1")
    assert lam.get_function_configuration(FunctionName="pubrev")["RevisionId"] == latest
    assert lam.publish_version(FunctionName="pubrev")["Version"] == "1"  # nothing new
    assert lam.get_function_configuration(FunctionName="pubrev")["RevisionId"] == latest


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        (
            {"Runtime": "cobol9"},
            "InvalidParameterValueException",
            "Value cobol9 at 'runtime' failed to satisfy constraint: Member must satisfy enum",
        ),
        ({"Timeout": 901}, "ValidationException", "have value less than or equal to 900"),
        ({"MemorySize": 20000}, "ValidationException", "less than or equal to 10240"),
        ({"Role": "not-a-role"}, "ValidationException", "at 'role' failed to satisfy constraint"),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            "reserved keys",
        ),
        (
            {"Environment": {"Variables": {"KK": "v" * 5000}}},
            "InvalidParameterValueException",
            "4KB limit",
        ),
    ],
)
def test_create_validation(lam: Any, kwargs: dict[str, Any], code: str, message: str) -> None:
    params = {
        "FunctionName": "v",
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip({"app.py": COUNTER})},
        **kwargs,
    }
    with pytest.raises(ClientError) as err:
        lam.create_function(**params)
    status, got_code, got_message = error_of(err)
    assert (status, got_code) == (400, code) and message in got_message
    with pytest.raises(ClientError):
        lam.get_function(FunctionName="v")


def test_duplicate_create_conflicts(lam: Any) -> None:
    create(lam, "dup")
    with pytest.raises(ClientError) as err:
        create(lam, "dup")
    assert error_of(err) == (409, "ResourceConflictException", "Function already exist: dup")


def _link(name: str, target: str) -> Any:
    def add(zf: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)

    return add


_symlink = _link("link", "/etc/passwd")


@pytest.mark.parametrize(
    "package",
    [
        b"this is not a zip",
        make_zip({"../escape.py": "x = 1"}),
        make_zip({"/abs.py": "x = 1"}),
        make_zip({"app.py": COUNTER}, _symlink),
        make_zip({"app.py": COUNTER}, _link("lib/up", "../../etc/passwd")),
    ],
    ids=["garbage", "zip-slip", "absolute", "symlink", "symlink-out"],
)
def test_unsafe_or_bad_zip_is_rejected(lam: Any, package: bytes) -> None:
    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName="z",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package},
        )
    assert error_of(err) == (
        400,
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
    )


def test_unzipped_size_cap(lam: Any) -> None:
    def bomb(zf: zipfile.ZipFile) -> None:
        with zf.open("big.bin", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(251):
                fh.write(chunk)

    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName="bomb",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": make_zip({}, bomb)},
        )
    assert error_of(err) == (
        400,
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
    )


def test_list_functions_pagination(lam: Any) -> None:
    for i in range(53):
        lam.create_function(
            FunctionName=f"fn{i:02d}",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": make_zip({"app.py": COUNTER})},
        )
    page = lam.list_functions()
    assert len(page["Functions"]) == 50 and "NextMarker" in page
    assert "State" not in page["Functions"][0]
    rest = lam.list_functions(Marker=page["NextMarker"])
    assert len(rest["Functions"]) == 3 and "NextMarker" not in rest
    names = [
        f["FunctionName"]
        for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 7})
        for f in p["Functions"]
    ]
    assert names == sorted(f"fn{i:02d}" for i in range(53))
    with pytest.raises(ClientError) as err:
        lam.list_functions(FunctionVersion="SOME")
    assert error_of(err)[:2] == (400, "ValidationException")


def test_versions_and_aliases(lam: Any) -> None:
    create(lam, "ver")
    v1 = lam.publish_version(FunctionName="ver", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(":ver:1")
    lam.get_waiter("published_version_active").wait(
        FunctionName="ver", Qualifier="1", WaiterConfig=FAST
    )
    assert lam.publish_version(FunctionName="ver")["Version"] == "1"  # nothing changed
    lam.update_function_configuration(FunctionName="ver", Environment={"Variables": {"MY_V": "2"}})
    assert lam.publish_version(FunctionName="ver")["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    all_fns = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["Version"] for f in all_fns] == ["$LATEST", "1", "2"]

    alias = lam.create_alias(FunctionName="ver", Name="live", FunctionVersion="1")
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"].endswith(":ver:live")
    assert (
        json.loads(lam.invoke(FunctionName="ver", Qualifier="live")["Payload"].read())["env"] == {}
    )
    lam.update_alias(FunctionName="ver", Name="live", FunctionVersion="2")
    out = lam.invoke(FunctionName="ver", Qualifier="live")
    assert out["ExecutedVersion"] == "2" and json.loads(out["Payload"].read())["env"] == {
        "MY_V": "2"
    }
    assert lam.get_alias(FunctionName="ver", Name="live")["FunctionVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="ver")["Aliases"]] == ["live"]
    assert lam.get_function(FunctionName="ver", Qualifier="live")["Configuration"]["Version"] == "2"
    with pytest.raises(ClientError) as err:
        lam.delete_function(FunctionName="ver", Qualifier="2")
    assert error_of(err)[:2] == (409, "ResourceConflictException")
    with pytest.raises(ClientError) as err:
        lam.delete_function(FunctionName="ver", Qualifier="$LATEST")
    assert error_of(err)[2] == "$LATEST version cannot be deleted without deleting the function."
    assert (
        lam.delete_alias(FunctionName="ver", Name="live")["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    with pytest.raises(ClientError) as err:
        lam.get_alias(FunctionName="ver", Name="live")
    assert error_of(err)[:2] == (404, "ResourceNotFoundException")
    lam.delete_function(FunctionName="ver", Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="ver")["Versions"]]
    assert versions == ["$LATEST", "2"]


def test_concurrency(lam: Any) -> None:
    create(lam, "conc")
    assert (
        lam.get_function_concurrency(FunctionName="conc").get("ReservedConcurrentExecutions")
        is None
    )
    out = lam.put_function_concurrency(FunctionName="conc", ReservedConcurrentExecutions=5)
    assert out["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName="conc")["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    with pytest.raises(ClientError) as err:
        lam.put_function_concurrency(FunctionName="conc", ReservedConcurrentExecutions=901)
    assert error_of(err) == (
        400,
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].",
    )
    resp = lam.delete_function_concurrency(FunctionName="conc")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Concurrency" not in lam.get_function(FunctionName="conc")


def test_event_invoke_config(lam: Any) -> None:
    create(lam, "eic")
    with pytest.raises(ClientError) as err:
        lam.get_function_event_invoke_config(FunctionName="eic")
    assert error_of(err)[:2] == (404, "ResourceNotFoundException")
    dest = "arn:aws:sqs:us-east-1:000000000000:q"
    out = lam.put_function_event_invoke_config(
        FunctionName="eic",
        MaximumRetryAttempts=1,
        MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    assert out["FunctionArn"].endswith(":eic:$LATEST") and out["MaximumRetryAttempts"] == 1
    got = lam.get_function_event_invoke_config(FunctionName="eic")
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest
    assert got["MaximumEventAgeInSeconds"] == 120
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName="eic", MaximumRetryAttempts=3)
    assert error_of(err)[:2] == (400, "ValidationException")
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName="eic", MaximumEventAgeInSeconds=30000)
    assert error_of(err)[:2] == (400, "ValidationException")


def test_get_function_code_location_serves_the_package(lam: Any) -> None:
    package = make_zip({"app.py": COUNTER})
    lam.create_function(
        FunctionName="dl",
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": package},
        Tags={"team": "a"},
    )
    got = lam.get_function(FunctionName="dl")
    assert got["Tags"] == {"team": "a"} and got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=30) as resp:
        assert resp.read() == package
    base = got["Code"]["Location"].rsplit("/_keepwarm/", 1)[0]
    answers = set()
    for name in ("dl", "nosuch"):  # unsigned: must not tell which functions exist
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/_keepwarm/code/{name}/00.zip", timeout=30)
        answers.add((err.value.code, json.loads(err.value.read())["message"]))
    assert answers == {(400, "No such code package.")}


def test_a_package_cut_short_earlier_is_replaced_by_the_next_upload(
    lam: Any, server: Server
) -> None:
    """A write stopped by a full disk used to leave a truncated zip that a later successful
    upload of the same package trusted and served."""
    package = make_zip({"app.py": COUNTER, "pad.bin": "x" * 50_000})
    create(lam, "cut")
    digest = hashlib.sha256(package).hexdigest()
    stale = server.data_dir / "code" / "cut" / f"{digest}.zip"
    stale.write_bytes(package[: len(package) // 2])
    lam.update_function_code(FunctionName="cut", ZipFile=package)
    location = lam.get_function(FunctionName="cut")["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as resp:
        assert resp.read() == package


def test_account_settings(lam: Any) -> None:
    create(lam, "acct")
    out = lam.get_account_settings()
    assert out["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert out["AccountUsage"]["FunctionCount"] == 1


def test_persistence_across_restart(start_server: Any, tmp_path: Any) -> None:
    data = tmp_path / "persist"
    first: Server = start_server(data_dir=data)
    lam = first.client()
    create(lam, "keep", Environment={"Variables": {"MY_X": "1"}})
    lam.publish_version(FunctionName="keep")
    lam.create_alias(FunctionName="keep", Name="prod", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName="keep", ReservedConcurrentExecutions=7)
    lam.put_function_event_invoke_config(FunctionName="keep", MaximumRetryAttempts=0)
    before = lam.get_function(FunctionName="keep")["Configuration"]
    first.stop()

    second: Server = start_server(data_dir=data)
    lam = second.client()
    after = lam.get_function(FunctionName="keep")
    for key in ("CodeSha256", "RevisionId", "LastModified", "Environment", "CodeSize"):
        assert after["Configuration"][key] == before[key]
    assert after["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    assert lam.get_alias(FunctionName="keep", Name="prod")["FunctionVersion"] == "1"
    assert lam.get_function_event_invoke_config(FunctionName="keep")["MaximumRetryAttempts"] == 0
    out = lam.invoke(FunctionName="keep:prod")
    assert out["ExecutedVersion"] == "1"
    assert json.loads(out["Payload"].read())["env"] == {"MY_X": "1"}


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b"{" * 100_000, b"[1, NaN"])
def test_an_unparseable_control_plane_body_is_a_400(server: Server, body: bytes) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/2015-03-31/functions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    assert (
        resp.status == 400
        and resp.getheader("x-amzn-ErrorType") == "InvalidRequestContentException"
    )
    assert answer["message"].startswith("Could not parse request body into json")


def test_links_inside_the_package_are_kept(lam: Any) -> None:
    """``zip -y`` keeps links (``node_modules/.bin``, ``libfoo.so -> libfoo.so.1``); Lambda
    unpacks them, so a handler reached through one runs."""
    package = make_zip(
        {"lib/real.py": COUNTER, "lib/libfoo.so.1": "binary"},
        lambda zf: [_link("app.py", "lib/real.py")(zf), _link("lib/libfoo.so", "libfoo.so.1")(zf)],
    )
    create(lam, "linked", Code={"ZipFile": package})
    out = lam.invoke(FunctionName="linked")
    assert "FunctionError" not in out, out["Payload"].read()
