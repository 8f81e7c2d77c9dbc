"""Control-plane rules beyond the happy path: member types, alias routing, references, paging
under change, updates in progress and racing writers (found by black-box testing)."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.lambda_api.kw_server import COUNTER, ROLE, Server, create, make_zip
from tests.lambda_api.test_invoke import error_of

ZIP_BYTES = make_zip({"app.py": COUNTER})
ZIP = base64.b64encode(ZIP_BYTES).decode()
CREATE = {"FunctionName": "typed", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler"}


def _raw(server: Server, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any, Any]:
    """What boto3 would refuse to send (it checks member types itself)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.getheader("x-amzn-ErrorType"), json.loads(resp.read() or b"null")


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ({"Environment": "x"}, "Environment: expected an object, got a string"),
        ({"Environment": {"Variables": "x"}}, "Environment.Variables: expected an object"),
        ({"Environment": {"Variables": {"A": 1}}}, "Environment.Variables.A: expected a string"),
        ({"Timeout": True}, "Timeout: expected an integer, got a boolean"),
        ({"Timeout": "3"}, "Timeout: expected an integer, got a string"),
        ({"Timeout": 5.5}, "Timeout: expected an integer, got a number"),
        ({"Description": 0}, "Description: expected a string, got a number"),
        ({"Layers": 0}, "Layers: expected a list, got a number"),
        ({"Layers": [1]}, "Layers[0]: expected a string, got a number"),
        ({"EphemeralStorage": ""}, "EphemeralStorage: expected an object"),
        ({"TracingConfig": "x"}, "TracingConfig: expected an object"),
        ({"Tags": {"team": 5}}, "Tags.team: expected a string"),
        ({"DeadLetterConfig": {"TargetArn": []}}, "DeadLetterConfig.TargetArn: expected a string"),
    ],
)
def test_a_member_of_the_wrong_type_is_a_serialization_error(
    server: Server, member: dict[str, Any], expected: str
) -> None:
    body = {**CREATE, "Code": {"ZipFile": ZIP}, **member}
    status, code, answer = _raw(server, "POST", "/2015-03-31/functions", body)
    assert (status, code) == (400, "SerializationException")
    assert expected in answer["message"]
    status, _, _ = _raw(server, "GET", "/2015-03-31/functions/typed", {})
    assert status == 404  # nothing was created


def test_update_and_alias_bodies_are_typed_too_and_null_reads_as_absent(
    server: Server, lam: Any
) -> None:
    create(lam, "typed2")
    path = "/2015-03-31/functions/typed2/configuration"
    assert _raw(server, "PUT", path, {"Handler": -1})[:2] == (400, "SerializationException")
    status, _, answer = _raw(server, "PUT", path, {"Description": None, "Timeout": 7})
    assert status == 200 and answer["Timeout"] == 7 and answer["Description"] == ""
    lam.publish_version(FunctionName="typed2")
    aliases = "/2015-03-31/functions/typed2/aliases"
    bad = {"Name": "a", "FunctionVersion": "1", "RoutingConfig": "x"}
    assert _raw(server, "POST", aliases, bad)[:2] == (400, "SerializationException")
    null_weight = {"Name": "a", "FunctionVersion": "1"}
    null_weight["RoutingConfig"] = {"AdditionalVersionWeights": {"1": None}}  # type: ignore[assignment]
    status, code, answer = _raw(server, "POST", aliases, null_weight)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "null" in answer["message"]


def _versions(lam: Any, name: str, count: int) -> None:
    create(lam, name)
    for i in range(count):
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"MY_V": str(i + 1)}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400}
        )
        lam.publish_version(FunctionName=name)


@pytest.mark.parametrize(
    ("version", "weights", "code", "words"),
    [
        ("1", {"$LATEST": 0.5}, "ValidationException", "regular expression pattern: [0-9]+"),
        ("1", {"1": 0.5}, "InvalidParameterValueException", "already included in routing"),
        ("$LATEST", {"1": 0.5}, "InvalidParameterValueException", "$LATEST is not supported"),
        ("1", {"2": 0.2, "3": 0.2}, "InvalidParameterValueException", "at most one additional"),
        ("1", {"2": 1.5}, "InvalidParameterValueException", "Invalid weight for version 2"),
    ],
)
def test_alias_routing_is_checked(
    lam: Any, version: str, weights: dict[str, float], code: str, words: str
) -> None:
    _versions(lam, "route", 3)
    with pytest.raises(ClientError) as err:
        lam.create_alias(
            FunctionName="route",
            Name="live",
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": weights},
        )
    assert error_of(err)[:2] == (400, code) and words in error_of(err)[2]
    assert lam.list_aliases(FunctionName="route")["Aliases"] == []


def test_update_alias_checks_the_route_it_would_leave(lam: Any) -> None:
    _versions(lam, "route2", 2)
    lam.create_alias(
        FunctionName="route2",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    with pytest.raises(ClientError) as err:
        lam.update_alias(FunctionName="route2", Name="live", FunctionVersion="2")
    assert "already included in routing" in error_of(err)[2]
    alias = lam.get_alias(FunctionName="route2", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.3}
    moved = lam.update_alias(
        FunctionName="route2",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    assert moved["FunctionVersion"] == "2" and not moved.get("RoutingConfig")


def test_a_version_an_alias_routes_to_cannot_be_deleted(lam: Any) -> None:
    _versions(lam, "refd", 2)
    lam.create_alias(
        FunctionName="refd",
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    with pytest.raises(ClientError) as err:
        lam.delete_function(FunctionName="refd", Qualifier="2")
    assert error_of(err)[:2] == (409, "ResourceConflictException")
    assert error_of(err)[2].endswith("aliases reference it: [live]")  # Java's list form
    executed = {lam.invoke(FunctionName="refd:live")["ExecutedVersion"] for _ in range(30)}
    assert executed <= {"1", "2"} and "2" in [
        v["Version"] for v in lam.list_versions_by_function(FunctionName="refd")["Versions"]
    ]


def test_pages_survive_deleting_the_marker_item(lam: Any) -> None:
    for name in ("pa", "pb", "pc", "pd"):
        create(lam, name)
    first = lam.list_functions(MaxItems=1)
    assert [f["FunctionName"] for f in first["Functions"]] == ["pa"]
    lam.delete_function(FunctionName="pb")  # the next page's first item
    rest = lam.list_functions(Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["pc", "pd"]

    _versions(lam, "pv", 3)
    page = lam.list_versions_by_function(FunctionName="pv", MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    lam.delete_function(FunctionName="pv", Qualifier="2")
    rest = lam.list_versions_by_function(FunctionName="pv", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["3"]

    for alias in ("a1", "a2", "a3"):
        lam.create_alias(FunctionName="pv", Name=alias, FunctionVersion="1")
    page = lam.list_aliases(FunctionName="pv", MaxItems=1)
    lam.delete_alias(FunctionName="pv", Name="a1")  # the page already read
    rest = lam.list_aliases(FunctionName="pv", Marker=page["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["a2", "a3"]


def test_changes_while_pending_or_in_progress_conflict(start_server: Any) -> None:
    lam = start_server("--activation-delay", "4").client()
    lam.create_function(
        FunctionName="slow",
        Role=ROLE,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": COUNTER})},
    )
    _all_conflict(lam, "following state: Pending")
    lam.get_waiter("function_active_v2").wait(
        FunctionName="slow", WaiterConfig={"Delay": 0.2, "MaxAttempts": 200}
    )
    lam.update_function_configuration(FunctionName="slow", Timeout=5)
    _all_conflict(lam, "An update is in progress for resource: arn:aws:lambda:")
    assert lam.get_function_configuration(FunctionName="slow")["Timeout"] == 5


def _all_conflict(lam: Any, words: str) -> None:
    for call in (
        lambda: lam.update_function_configuration(FunctionName="slow", Timeout=9),
        lambda: lam.publish_version(FunctionName="slow"),
        lambda: lam.update_function_code(FunctionName="slow", ZipFile=make_zip({"app.py": ""})),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert error_of(err)[:2] == (409, "ResourceConflictException")
        assert words in error_of(err)[2]


def test_racing_code_updates_with_one_revision_let_one_through(lam: Any) -> None:
    create(lam, "race")
    revision = lam.get_function(FunctionName="race")["Configuration"]["RevisionId"]
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def update(i: int) -> None:
        package = make_zip({"app.py": COUNTER + f"\nWRITER = {i}\n"})
        start.wait()
        try:
            lam.update_function_code(FunctionName="race", ZipFile=package, RevisionId=revision)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=update, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "PreconditionFailedException", "ResourceConflictException"}


def test_event_invoke_config_refuses_a_self_destination_and_an_empty_put(lam: Any) -> None:
    create(lam, "loops")
    arn = "arn:aws:lambda:us-east-1:000000000000:function:loops"
    for destination in (arn, arn + ":$LATEST"):
        with pytest.raises(ClientError) as err:
            lam.put_function_event_invoke_config(
                FunctionName="loops",
                DestinationConfig={"OnSuccess": {"Destination": destination}},
            )
        assert error_of(err) == (
            400,
            "InvalidParameterValueException",
            "You can't specify the function as a destination for itself.",
        )
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName="loops")
    assert error_of(err)[:2] == (400, "InvalidParameterValueException")
    assert "at least one of error handling or destination" in error_of(err)[2]
    assert (
        lam.list_function_event_invoke_configs(FunctionName="loops")["FunctionEventInvokeConfigs"]
        == []
    )


def test_a_missing_value_reads_null_and_a_fraction_is_not_an_integer(
    server: Server, lam: Any
) -> None:
    create(lam, "reserved")
    path = "/2017-10-31/functions/reserved/concurrency"
    for body in ({}, {"ReservedConcurrentExecutions": None}):
        status, code, answer = _raw(server, "PUT", path, body)
        assert (status, code) == (400, "ValidationException")
        assert answer["message"] == (
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed "
            "to satisfy constraint: Member must not be null"
        )
    status, code, _ = _raw(server, "PUT", path, {"ReservedConcurrentExecutions": 5.5})
    assert (status, code) == (400, "SerializationException")


def test_layers_must_be_layer_version_arns(lam: Any) -> None:
    create(lam, "layered")
    good = "arn:aws:lambda:us-east-1:123456789012:layer:deps:3"
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="layered", Layers=[good, "x"])
    status, code, message = error_of(excinfo)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(f"1 validation error detected: Value '[{good}, x]' at 'layers'")
    out = lam.update_function_configuration(FunctionName="layered", Layers=[good])
    assert out["Layers"] == [{"Arn": good, "CodeSize": 0}]


def test_a_null_layer_is_a_validation_error(server: Server, lam: Any) -> None:
    create(lam, "nulllayer")
    path = "/2015-03-31/functions/nulllayer/configuration"
    status, code, answer = _raw(server, "PUT", path, {"Layers": [None]})
    assert (status, code) == (400, "ValidationException")
    assert answer["message"].startswith("1 validation error detected: Value '[null]' at 'layers'")


def test_an_arn_of_another_region_is_not_a_function_here(lam: Any) -> None:
    create(lam, "regional")
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:regional"
    for call in (
        lambda: lam.invoke(FunctionName=arn),
        lambda: lam.get_function_configuration(FunctionName=arn),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (
            404,
            "ResourceNotFoundException",
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')",
        )
    home = arn.replace("eu-west-1", "us-east-1")
    assert lam.invoke(FunctionName=home)["StatusCode"] == 200


def test_an_arn_of_any_account_names_the_local_function(lam: Any) -> None:
    """The server answers for every account (documented in api-compatibility.md)."""
    create(lam, "anyacct")
    arn = "arn:aws:lambda:us-east-1:111122223333:function:anyacct"
    shown = lam.get_function_configuration(FunctionName=arn)["FunctionArn"]
    assert shown == "arn:aws:lambda:us-east-1:000000000000:function:anyacct"
    assert lam.invoke(FunctionName="111122223333:function:anyacct")["StatusCode"] == 200
    lam.delete_function(FunctionName=arn)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName="anyacct")
    assert error_of(excinfo)[:2] == (404, "ResourceNotFoundException")


def test_create_alias_without_name_or_version_says_null(server: Server, lam: Any) -> None:
    create(lam, "aliasnull")
    path = "/2015-03-31/functions/aliasnull/aliases"
    for body, field in (
        ({"FunctionVersion": "$LATEST"}, "name"),
        ({"Name": "a"}, "functionVersion"),
    ):
        status, code, answer = _raw(server, "POST", path, body)
        assert (status, code) == (400, "ValidationException")
        assert answer["message"] == (
            f"1 validation error detected: Value null at '{field}' failed to satisfy "
            "constraint: Member must not be null"
        )


@pytest.mark.parametrize("qualifier", ["1", "prod", "999"])
def test_updates_and_publishing_refuse_a_version_or_alias(lam: Any, qualifier: str) -> None:
    create(lam, "qual")
    lam.publish_version(FunctionName="qual")
    lam.create_alias(FunctionName="qual", Name="prod", FunctionVersion="1")
    name = f"qual:{qualifier}"
    calls = [
        lambda: lam.update_function_configuration(FunctionName=name, Timeout=30),
        lambda: lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": ""})),
        lambda: lam.publish_version(FunctionName=name),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        status, code, message = error_of(err)
        assert (status, code) == (400, "InvalidParameterValueException")
        assert message.startswith("Current operation does not support versions other than")
    latest = lam.get_function_configuration(FunctionName="qual")
    assert latest["Timeout"] == 3 and latest["Version"] == "$LATEST"
    versions = lam.list_versions_by_function(FunctionName="qual")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    lam.update_function_configuration(FunctionName="qual:$LATEST", Timeout=4)  # allowed


def test_reserved_concurrency_is_not_a_create_function_member(server: Server, lam: Any) -> None:
    for value in (-5, 950):
        body = {**CREATE, "Code": {"ZipFile": ZIP}, "ReservedConcurrentExecutions": value}
        status, _, _ = _raw(server, "POST", "/2015-03-31/functions", body)
        assert status == 201  # an unknown member is ignored, as AWS's front end ignores it
        assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
            FunctionName="typed"
        )
        unreserved = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        assert unreserved == 1000
        lam.delete_function(FunctionName="typed")


@pytest.mark.parametrize(
    ("member", "words"),
    [
        ({"TracingConfig": {"Mode": "Bogus"}}, "at 'tracingConfig.mode' failed"),
        ({"DeadLetterConfig": {"TargetArn": "not-an-arn"}}, "at 'deadLetterConfig.targetArn'"),
        ({"EphemeralStorage": {}}, "Value null at 'ephemeralStorage.size'"),
        ({"PackageType": "zip"}, "at 'packageType' failed to satisfy constraint: Member must"),
    ],
)
def test_nested_members_are_checked(server: Server, member: dict[str, Any], words: str) -> None:
    body = {**CREATE, "Code": {"ZipFile": ZIP}, **member}
    status, code, answer = _raw(server, "POST", "/2015-03-31/functions", body)
    assert (status, code) == (400, "ValidationException")
    assert words in answer["message"]
    status, _, _ = _raw(server, "GET", "/2015-03-31/functions/typed", {})
    assert status == 404


def test_every_reserved_key_is_named(lam: Any) -> None:
    variables = {"AWS_REGION": "x", "MY_OWN": "y", "AWS_ACCESS_KEY_ID": "z"}
    with pytest.raises(ClientError) as err:
        create(lam, "envs", Environment={"Variables": variables})
    assert error_of(err)[2].endswith("used in this request: AWS_REGION, AWS_ACCESS_KEY_ID")


def test_deleting_a_version_deletes_its_event_invoke_config(lam: Any) -> None:
    create(lam, "eic")
    lam.publish_version(FunctionName="eic")
    lam.put_function_event_invoke_config(FunctionName="eic", Qualifier="1", MaximumRetryAttempts=0)
    lam.delete_function(FunctionName="eic", Qualifier="1")
    listed = lam.list_function_event_invoke_configs(FunctionName="eic")
    assert listed["FunctionEventInvokeConfigs"] == []


def test_max_items_bounds_are_named_as_lambda_names_them(server: Server) -> None:
    status, _, answer = _raw(server, "GET", "/2015-03-31/functions?MaxItems=0", {})
    assert status == 400
    assert answer["message"].endswith("Member must have value greater than or equal to 1")


NOT_RUN = "is not one keepwarm runs (Python 3.9-3.14, Node.js 18-24, provided)."


def _no_longer(runtime: str, newer: str) -> str:
    return (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS "
        f"Lambda functions. We recommend you use the new runtime ({newer}) while creating or "
        "updating functions."
    )


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        ("java17", f"Runtime java17 {NOT_RUN}"),
        ("dotnet8", f"Runtime dotnet8 {NOT_RUN}"),
        ("ruby3.3", f"Runtime ruby3.3 {NOT_RUN}"),
        ("python3.7", _no_longer("python3.7", "python3.14")),
        ("python2.7", _no_longer("python2.7", "python3.14")),
        ("nodejs12.x", _no_longer("nodejs12.x", "nodejs24.x")),
    ],
)
def test_a_lambda_runtime_keepwarm_does_not_take_is_named_as_such(
    lam: Any, runtime: str, message: str
) -> None:
    """Such runtimes got Lambda's enum message, as if Lambda had no such value: a real runtime
    keepwarm cannot run says so, and one Lambda refuses for new functions gets Lambda's words."""
    create(lam, "rt")
    calls = (
        lambda: lam.create_function(**{**CREATE, "Runtime": runtime}, Code={"ZipFile": ZIP_BYTES}),
        lambda: lam.update_function_configuration(FunctionName="rt", Runtime=runtime),
    )
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (400, "InvalidParameterValueException", message)
    assert lam.get_function_configuration(FunctionName="rt")["Runtime"] == "python3.12"
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="rt", Runtime="cobol9")
    assert error_of(excinfo)[2].startswith(
        "Value cobol9 at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
        "set: [nodejs18.x, "
    )
