"""``keepwarm invoke --endpoint`` signs (SigV4) with the credentials the AWS CLI would find.

A real ``keepwarm serve --auth sigv4 --credentials FILE`` and the real command; credentials
come only from what each case sets (``AWS_*`` variables, temporary credentials/config files).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepwarm.lambda_api.auth import MISMATCH
from tests.cli.run import keepwarm
from tests.cli.test_cli_errors import assert_one_line_error
from tests.helpers import echo_template
from tests.lambda_api.kw_server import Server

KEY, SECRET = "AKIAKEEPWARMCLI00001", "cli/secret/0001"
CI_KEY, CI_SECRET = "AKIAKEEPWARMCLI00002", "cli/secret/0002"
CFG_KEY, CFG_SECRET = "AKIAKEEPWARMCLI00003", "cli/secret/0003"
TEMP_KEY, TEMP_SECRET, TOKEN = "ASIAKEEPWARMCLI00004", "cli/secret/0004", "temporary/token=="


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The server's keys, and the client's shared credentials and config files."""
    root = tmp_path_factory.mktemp("signed")
    template = echo_template(root, "Echo", transform=False)
    server_keys = root / "server-credentials"
    server_keys.write_text(
        "".join(
            f"[k{n}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
            for n, (key, secret) in enumerate(
                [(KEY, SECRET), (CI_KEY, CI_SECRET), (CFG_KEY, CFG_SECRET)]
            )
        )
        + f"[temp]\naws_access_key_id = {TEMP_KEY}\naws_secret_access_key = {TEMP_SECRET}\n"
        f"aws_session_token = {TOKEN}\n"
    )
    credentials = root / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
        f"[ci]\naws_access_key_id = {CI_KEY}\naws_secret_access_key = {CI_SECRET}\n"
        f"[wrong]\naws_access_key_id = {KEY}\naws_secret_access_key = not-the-secret\n"
    )
    config = root / "config"
    config.write_text(
        "[default]\nregion = us-east-1\n"
        f"[profile cfg]\naws_access_key_id = {CFG_KEY}\naws_secret_access_key = {CFG_SECRET}\n"
        "region = eu-west-3\n"
        "[profile sso]\nsso_session = corp\nregion = us-east-1\n"
    )
    return {"template": template, "keys": server_keys, "credentials": credentials, "config": config}


@pytest.fixture(scope="module")
def signed_server(files: dict[str, Path]) -> Iterator[Server]:
    args = ("-t", str(files["template"]), "--auth", "sigv4", "--credentials", str(files["keys"]))
    server = Server(files["template"].parent / "data", *args).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_server(files: dict[str, Path]) -> Iterator[Server]:
    server = Server(files["template"].parent / "open", "-t", str(files["template"])).start()
    yield server
    server.stop()


def invoke(
    server: Server, aws: dict[str, str], *args: str, files: dict[str, Path] | None = None
) -> subprocess.CompletedProcess[str]:
    """``keepwarm invoke Echo --endpoint`` seeing only ``aws`` (and, given ``files``, the
    client's credentials and config files; otherwise files that do not exist)."""
    missing = str(Path("/nonexistent/keepwarm-test"))
    paths = {
        "AWS_SHARED_CREDENTIALS_FILE": str(files["credentials"]) if files else missing,
        "AWS_CONFIG_FILE": str(files["config"]) if files else missing,
    }
    return keepwarm(
        "invoke", "Echo", "--endpoint", server.url, "--payload", '{"n": 1}', "-q", *args,
        aws={**paths, **aws},
    )  # fmt: skip


def assert_echoed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["StatusCode"], json.loads(answer["Payload"])) == (200, {"got": {"n": 1}})


def test_keys_from_the_environment_sign(signed_server: Server) -> None:
    """A session token travels signed: the server's temporary key takes its own token, and a
    long-term key with a token is refused, as AWS refuses it."""
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    assert_echoed(invoke(signed_server, env))
    temp = {"AWS_ACCESS_KEY_ID": TEMP_KEY, "AWS_SECRET_ACCESS_KEY": TEMP_SECRET}
    assert_echoed(invoke(signed_server, {**temp, "AWS_SESSION_TOKEN": TOKEN}))
    refused = invoke(signed_server, {**env, "AWS_SESSION_TOKEN": TOKEN})
    assert_one_line_error(
        refused,
        "keepwarm: UnrecognizedClientException: "
        "The security token included in the request is invalid.",
    )


def test_a_wrong_secret_gets_the_servers_signature_error(signed_server: Server) -> None:
    done = invoke(signed_server, {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "nope"})
    assert_one_line_error(done, f"keepwarm: InvalidSignatureException: {MISMATCH}")


def test_profiles_from_the_shared_files_sign(signed_server: Server, files: dict[str, Path]) -> None:
    assert_echoed(invoke(signed_server, {}, files=files))  # [default]
    assert_echoed(invoke(signed_server, {"AWS_PROFILE": "ci"}, files=files))
    assert_echoed(invoke(signed_server, {}, "--profile", "ci", files=files))
    wrong = invoke(signed_server, {"AWS_PROFILE": "wrong"}, files=files)
    assert_one_line_error(wrong, f"keepwarm: InvalidSignatureException: {MISMATCH}")


def test_precedence_follows_the_aws_cli(signed_server: Server, files: dict[str, Path]) -> None:
    """Environment keys outrank AWS_PROFILE but not --profile; the region comes from --region,
    AWS_REGION, AWS_DEFAULT_REGION, then the profile (keepwarm serves us-east-1 only)."""
    bad_env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "nope"}
    env_wins = invoke(signed_server, {**bad_env, "AWS_PROFILE": "ci"}, files=files)
    assert_one_line_error(env_wins, f"keepwarm: InvalidSignatureException: {MISMATCH}")
    assert_echoed(invoke(signed_server, bad_env, "--profile", "ci", files=files))
    in_paris = invoke(signed_server, {}, "--profile", "cfg", files=files)
    assert_one_line_error(
        in_paris,
        "keepwarm: InvalidSignatureException: Credential should be scoped to a valid region, "
        "not 'eu-west-3'.",
    )
    assert_echoed(
        invoke(signed_server, {}, "--profile", "cfg", "--region", "us-east-1", files=files)
    )
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        assert_echoed(
            invoke(signed_server, {"AWS_PROFILE": "cfg", variable: "us-east-1"}, files=files)
        )


def test_profiles_it_cannot_use_are_named(signed_server: Server, files: dict[str, Path]) -> None:
    missing = invoke(signed_server, {}, "--profile", "nope", files=files)
    assert_one_line_error(missing, "keepwarm: The config profile (nope) could not be found")
    sso = invoke(signed_server, {"AWS_PROFILE": "sso"}, files=files)
    assert_one_line_error(sso, "The config profile (sso) has no aws_access_key_id")


def test_without_credentials_requests_go_unsigned(
    signed_server: Server, open_server: Server
) -> None:
    assert_echoed(invoke(open_server, {}))
    refused = invoke(signed_server, {})
    assert_one_line_error(
        refused, "keepwarm: MissingAuthenticationTokenException: Missing Authentication Token"
    )


def test_a_key_a_header_cannot_carry_is_a_clear_error(open_server: Server) -> None:
    """A non-ASCII key id or token crashed in http.client with a traceback."""
    for aws in (
        {"AWS_ACCESS_KEY_ID": "ключ", "AWS_SECRET_ACCESS_KEY": "s"},
        {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok✓"},
    ):
        done = invoke(open_server, aws)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "characters a request header cannot carry" in done.stderr
