"""The AWS CLI (v1, from the venv) against ``keepwarm serve``, end to end."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.lambda_api.kw_server import COUNTER, ROLE, Server, make_zip

AWS = str(Path(sys.executable).with_name("aws"))
REPORT = re.compile(
    r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
)


def binary_format() -> list[str]:
    """v2 needs ``--cli-binary-format raw-in-base64-out`` for raw JSON payloads; v1 sends
    payloads raw and rejects the flag."""
    version = subprocess.run([AWS, "--version"], capture_output=True, text=True, timeout=60)
    text = version.stdout + version.stderr
    return [] if text.startswith("aws-cli/1.") else ["--cli-binary-format", "raw-in-base64-out"]


def aws(serve_proc: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [AWS, "--endpoint-url", serve_proc.url, "lambda", *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=120,
    )


def test_aws_cli_create_invoke_error_and_delete(serve_proc: Server, tmp_path: Path) -> None:
    package = tmp_path / "fn.zip"
    package.write_bytes(make_zip({"app.py": COUNTER}))
    created = json.loads(
        aws(
            serve_proc,
            "create-function",
            "--function-name",
            "cli",
            "--runtime",
            "python3.12",
            "--role",
            ROLE,
            "--handler",
            "app.handler",
            "--zip-file",
            f"fileb://{package}",
        ).stdout
    )
    assert created["FunctionName"] == "cli" and created["State"] == "Pending"
    aws(serve_proc, "wait", "function-active-v2", "--function-name", "cli")
    outfile = tmp_path / "out.json"
    result = json.loads(
        aws(
            serve_proc,
            "invoke",
            "--function-name",
            "cli",
            *binary_format(),
            "--payload",
            '{"hello": "cli"}',
            "--log-type",
            "Tail",
            str(outfile),
        ).stdout
    )
    assert result["StatusCode"] == 200 and result["ExecutedVersion"] == "$LATEST"
    assert REPORT.search(base64.b64decode(result["LogResult"]).decode())
    payload: dict[str, Any] = json.loads(outfile.read_text())
    assert payload["event"] == {"hello": "cli"} and payload["count"] == 1

    missing = aws(serve_proc, "get-function", "--function-name", "nope", check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope" in missing.stderr
    )
    listed = json.loads(aws(serve_proc, "list-functions").stdout)
    assert [f["FunctionName"] for f in listed["Functions"]] == ["cli"]
    aws(serve_proc, "delete-function", "--function-name", "cli")
    assert json.loads(aws(serve_proc, "list-functions").stdout)["Functions"] == []


def test_aws_cli_reports_function_errors(serve_proc: Server, tmp_path: Path) -> None:
    package = tmp_path / "bad.zip"
    package.write_bytes(make_zip({"app.py": "def handler(e, c):\n    raise ValueError('nope')\n"}))
    aws(
        serve_proc,
        "create-function",
        "--function-name",
        "bad",
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "app.handler",
        "--zip-file",
        f"fileb://{package}",
    )
    aws(serve_proc, "wait", "function-active-v2", "--function-name", "bad")
    outfile = tmp_path / "err.json"
    result = json.loads(aws(serve_proc, "invoke", "--function-name", "bad", str(outfile)).stdout)
    assert result["StatusCode"] == 200 and result["FunctionError"] == "Unhandled"
    assert json.loads(outfile.read_text())["errorType"] == "ValueError"


def test_aws_cli_publishes_and_lists_layers(serve_proc: Server, tmp_path: Path) -> None:
    package = tmp_path / "layer.zip"
    package.write_bytes(make_zip({"python/shared.py": "X = 1\n"}))
    published = json.loads(
        aws(
            serve_proc,
            "publish-layer-version",
            "--layer-name",
            "cli-layer",
            "--zip-file",
            f"fileb://{package}",
            "--compatible-runtimes",
            "python3.12",
            "--license-info",
            "MIT",
        ).stdout
    )
    arn = "arn:aws:lambda:us-east-1:000000000000:layer:cli-layer"
    assert (published["LayerVersionArn"], published["Version"]) == (f"{arn}:1", 1)
    assert published["Content"]["CodeSize"] == package.stat().st_size
    listed = json.loads(aws(serve_proc, "list-layers").stdout)["Layers"]
    assert listed == [
        {
            "LayerName": "cli-layer",
            "LayerArn": arn,
            "LatestMatchingVersion": {
                "LayerVersionArn": f"{arn}:1",
                "Version": 1,
                "Description": "",
                "CreatedDate": published["CreatedDate"],
                "CompatibleRuntimes": ["python3.12"],
                "LicenseInfo": "MIT",
            },
        }
    ]
    filtered = aws(serve_proc, "list-layers", "--compatible-runtime", "nodejs22.x").stdout
    assert json.loads(filtered)["Layers"] == []
