"""``LoggingConfig``: stored and echoed by the API, read from templates, and what the runtime
is started with (JSON logs, the application log level, the log group)."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keepwarm import Runtime, ServerConfig
from keepwarm.errors import TemplateError
from keepwarm.template import read_template
from tests.lambda_api.kw_server import create
from tests.lambda_api.test_invoke import error_of

APP = """
import json, logging, os

def handler(event, context):
    logging.getLogger().info("info line")
    logging.getLogger().warning("warn line")
    return {
        "format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"),
        "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL"),
        "group": os.environ["AWS_LAMBDA_LOG_GROUP_NAME"],
        "context_group": context.log_group_name,
    }
"""


def _run(lam: Any, name: str) -> tuple[dict[str, Any], list[str]]:
    out = lam.invoke(FunctionName=name, LogType="Tail")
    logs = base64.b64decode(out["LogResult"]).decode().splitlines()
    return json.loads(out["Payload"].read()), logs


def test_json_logging_reaches_the_runtime_and_is_echoed(lam: Any) -> None:
    given = {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "LogGroup": "/custom/group"}
    created = create(lam, "jlog", APP, LoggingConfig=given)
    assert created["LoggingConfig"] == {**given, "SystemLogLevel": "INFO"}
    payload, logs = _run(lam, "jlog")
    assert payload == {
        "format": "JSON",
        "level": "WARN",
        "group": "/custom/group",
        "context_group": "/custom/group",
    }
    records = [json.loads(line) for line in logs if line.startswith("{")]
    assert [(r["level"], r["message"]) for r in records] == [("WARNING", "warn line")]


def test_text_is_the_default_and_updates_change_named_members(lam: Any) -> None:
    create(lam, "tlog", APP)
    assert lam.get_function_configuration(FunctionName="tlog")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/tlog",
    }
    assert _run(lam, "tlog")[0]["format"] is None
    lam.update_function_configuration(FunctionName="tlog", LoggingConfig={"LogFormat": "JSON"})
    lam.get_waiter("function_updated_v2").wait(FunctionName="tlog")
    lam.update_function_configuration(
        FunctionName="tlog", LoggingConfig={"ApplicationLogLevel": "DEBUG"}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName="tlog")
    config = lam.get_function_configuration(FunctionName="tlog")["LoggingConfig"]
    assert (config["LogFormat"], config["ApplicationLogLevel"]) == ("JSON", "DEBUG")
    assert _run(lam, "tlog")[0]["level"] == "DEBUG"
    lam.update_function_configuration(FunctionName="tlog", LoggingConfig={"LogFormat": "Text"})
    lam.get_waiter("function_updated_v2").wait(FunctionName="tlog")
    assert (
        "ApplicationLogLevel"
        not in lam.get_function(FunctionName="tlog")["Configuration"]["LoggingConfig"]
    )


@pytest.mark.parametrize(
    ("given", "code", "words"),
    [
        ({"LogFormat": "XML"}, "ValidationException", "satisfy enum value set: [JSON, Text]"),
        (
            {"LogFormat": "JSON", "ApplicationLogLevel": "LOUD"},
            "ValidationException",
            "loggingConfig.applicationLogLevel",
        ),
        ({"ApplicationLogLevel": "INFO"}, "InvalidParameterValueException", "only be set when"),
        ({"LogGroup": "bad group!"}, "ValidationException", "loggingConfig.logGroup"),
    ],
)
def test_bad_logging_configs_are_refused(
    lam: Any, given: dict[str, str], code: str, words: str
) -> None:
    with pytest.raises(ClientError) as err:
        create(lam, "badlog", APP, LoggingConfig=given)
    assert error_of(err)[:2] == (400, code) and words in error_of(err)[2]


def test_a_template_logging_config(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(APP)
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            """\
            Transform: AWS::Serverless-2016-10-31
            Globals:
              Function:
                LoggingConfig:
                  LogFormat: JSON
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.12
                  Handler: app.handler
                  CodeUri: src/
                  LoggingConfig:
                    LogFormat: JSON
                    ApplicationLogLevel: ERROR
            """
        )
    )
    server = ServerConfig(data_dir=tmp_path / "data")
    with Runtime(template=template, server=server) as rt:
        result = rt.invoke("Fn")
    assert result.json()["format"] == "JSON" and result.json()["level"] == "ERROR"
    assert "warn line" not in result.logs
    text = template.read_text().replace("ApplicationLogLevel: ERROR", "SystemLogLevel: TRACE")
    template.write_text(text)
    with pytest.raises(TemplateError, match=r"loggingConfig\.systemLogLevel"):
        read_template(template)
