"""Function output format (§7.3). Each case runs in a fresh interpreter so that the test
process's own root logger and std streams are left alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
WARNING_TEXT = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code."
)
OURS = (
    "import logging, os, sys; from keepwarm.runtimes.python.logs import install_logging; "
    "from keepwarm.runtimes.python.errors import format_unhandled_log; rid = ['']; "
    "install_logging(lambda: rid[0]); set_rid = lambda v: rid.__setitem__(0, v); "
    "unhandled = lambda p: sys.stdout.write(format_unhandled_log(p, init=True) + '\\n')"
)
THEIRS = (
    "import logging, os, sys; from awslambdaric import bootstrap as b; "
    "from awslambdaric.lambda_literals import lambda_unhandled_exception_warning_message as W; "
    "sink = b.StandardLogSink(); "
    "b._setup_logging(b._AWS_LAMBDA_LOG_FORMAT, b._AWS_LAMBDA_LOG_LEVEL, sink); "
    "set_rid = lambda v: setattr(b, '_GLOBAL_AWS_REQUEST_ID', v); "
    "unhandled = lambda p: (logging.warning(W), b.log_error(p, sink))"
)


def run(body: str, prelude: str = OURS, **env: str) -> tuple[str, str]:
    """Run ``prelude`` (one line) then ``body`` in a new interpreter; return stdout, stderr."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "TZ": "Asia/Tokyo",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        **env,
    }
    script = prelude + "\n" + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], env=full_env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode(), done.stderr.decode()


def out(body: str, **env: str) -> str:
    return run(body, **env)[0]


def test_text_line_format_and_request_id() -> None:
    stdout = out(
        """
        logging.warning("during init")
        set_rid("8f5a-req")
        logging.getLogger("app.db").error("in %s", "invoke")
        """
    )
    lines = stdout.splitlines(keepends=True)
    assert re.fullmatch(rf"\[WARNING\]\t{TIMESTAMP}\t\tduring init\n", lines[0])
    assert re.fullmatch(rf"\[ERROR\]\t{TIMESTAMP}\t8f5a-req\tin invoke\n", lines[1])
    assert len(lines) == 2


def test_timestamps_are_utc_whatever_tz() -> None:
    stdout = out('logging.warning("x")', TZ="Asia/Tokyo")
    stamp = stdout.split("\t")[1]
    logged = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - logged).total_seconds()) < 60


def test_multi_line_message_is_written_as_is() -> None:
    assert out('logging.warning("one\\ntwo")').endswith("\tone\ntwo\n")


def test_exception_text_follows_message() -> None:
    stdout = out(
        """
        try:
            1 / 0
        except ZeroDivisionError:
            logging.exception("failed")
        """
    )
    assert re.match(
        rf"\[ERROR\]\t{TIMESTAMP}\t\tfailed\nTraceback \(most recent call last\):\n", stdout
    )
    assert stdout.endswith("ZeroDivisionError: division by zero")


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (None, ["WARNING", "ERROR"]),
        ("INFO", ["INFO", "WARNING", "ERROR"]),
        ("debug", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("TRACE", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("ERROR", ["ERROR"]),
        ("nonsense", ["WARNING", "ERROR"]),
    ],
)
def test_log_level_from_env(level: str | None, shown: list[str]) -> None:
    env = {} if level is None else {"AWS_LAMBDA_LOG_LEVEL": level}
    body = "for name in ('debug', 'info', 'warning', 'error'):\n    getattr(logging, name)(name)\n"
    stdout = out(body, **env)
    assert [line.split("]")[0][1:] for line in stdout.splitlines()] == shown


def test_print_passes_through_raw() -> None:
    assert out('print("plain", 1)\nsys.stdout.write("no newline")') == "plain 1\nno newline"


def test_writes_reach_the_fd_without_flush() -> None:
    stdout, stderr = run('sys.stdout.write("partial"); sys.stderr.write("err"); os._exit(0)')
    assert (stdout, stderr) == ("partial", "err")


def test_logs_reach_the_fd_without_flush() -> None:
    assert out('logging.warning("w"); os._exit(0)').endswith("\tw\n")


def test_install_twice_keeps_one_handler() -> None:
    stdout = out('install_logging(lambda: "again")\nlogging.warning("once")')
    assert re.fullmatch(rf"\[WARNING\]\t{TIMESTAMP}\tagain\tonce\n", stdout)


def test_json_lines() -> None:
    stdout = out(
        """
        set_rid("r-1")
        logging.getLogger("my.module").warning("hi %s", "there", extra={"orderId": 7})
        logging.warning({"structured": True})
        logging.log(25, "between")
        try:
            raise KeyError("k")
        except KeyError:
            logging.exception("boom")
        """,
        AWS_LAMBDA_LOG_FORMAT="JSON",
        AWS_LAMBDA_LOG_LEVEL="INFO",
    )
    first, second, third, fourth = (json.loads(line) for line in stdout.splitlines())
    assert list(first) == ["timestamp", "level", "message", "logger", "requestId", "orderId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["timestamp"])
    assert first["level"] == "WARNING"
    assert (first["message"], first["logger"], first["requestId"]) == (
        "hi there",
        "my.module",
        "r-1",
    )
    assert first["orderId"] == 7
    assert second["message"] == {"structured": True}
    assert third["level"] == "INFO"
    assert fourth["errorType"] == "KeyError"
    assert fourth["errorMessage"] == "'k'"
    assert fourth["location"] == "<string>:<module>:10"
    assert fourth["stackTrace"][0].startswith('  File "<string>", line 8, in <module>')


def test_json_request_id_is_empty_during_init() -> None:
    line = json.loads(out('logging.warning("init")', AWS_LAMBDA_LOG_FORMAT="json"))
    assert line["requestId"] == ""


PAYLOAD = (
    "p = {'errorMessage': 'No module named x', 'errorType': 'Runtime.ImportModuleError', "
    "'requestId': '', 'stackTrace': ['  File \"/var/task/a.py\", line 1, in <module>\\n    x\\n']}"
)


def test_init_error_log_text() -> None:
    stdout = out(f"{PAYLOAD}\nunhandled(p)")
    warning, error = stdout.split("\r\n")
    assert re.fullmatch(
        rf"\[WARNING\]\t{TIMESTAMP}\t\t{re.escape(WARNING_TEXT)}.*runtimes-update\.html", warning
    )
    assert error == (
        "[ERROR] Runtime.ImportModuleError: No module named x\rTraceback (most recent call last):\r"
        '\u00a0\u00a0File "/var/task/a.py", line 1, in <module>\r\u00a0\u00a0\u00a0\u00a0x\n'
    )


def test_init_warning_is_dropped_above_warning_level() -> None:
    stdout = out(f"{PAYLOAD}\nunhandled(p)", AWS_LAMBDA_LOG_LEVEL="ERROR")
    assert stdout.startswith("[ERROR] Runtime.ImportModuleError: No module named x\r")


def test_init_error_log_json() -> None:
    stdout = out(f"{PAYLOAD}\nunhandled(p)", AWS_LAMBDA_LOG_FORMAT="JSON")
    warning, error = (json.loads(line) for line in stdout.splitlines())
    assert warning["level"] == "WARNING" and warning["message"].startswith(WARNING_TEXT)
    assert error["level"] == "ERROR" and error["errorType"] == "Runtime.ImportModuleError"


ORACLE_BODY = f"""
logging.warning("init %d", 1)
set_rid("req-42")
logging.getLogger("svc").error("multi\\nline é", extra={{"k": [1, 2]}})
logging.info({{"a": 1}})
try:
    raise ValueError("bad")
except ValueError:
    logging.getLogger("svc").exception("caught")
print("plain")
set_rid(None)
{PAYLOAD}
unhandled(p)
"""


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"AWS_LAMBDA_LOG_LEVEL": "INFO"},
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
    ],
)
def test_output_matches_awslambdaric(env: dict[str, str]) -> None:
    pytest.importorskip("awslambdaric.bootstrap")
    stamps = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?")
    ours = stamps.sub("<t>", run(ORACLE_BODY, OURS, **env)[0])
    theirs = stamps.sub("<t>", run(ORACLE_BODY, THEIRS, **env)[0])
    assert ours == theirs


@pytest.mark.parametrize("prelude", [OURS, THEIRS], ids=["ours", "awslambdaric"])
def test_bad_format_arguments_raise_into_the_caller(prelude: str) -> None:
    if prelude is THEIRS:
        pytest.importorskip("awslambdaric.bootstrap")
    body = 'try:\n    logging.warning("%s %s", 1)\nexcept TypeError:\n    print("raised")\n'
    assert run(body, prelude)[0] == "raised\n"
