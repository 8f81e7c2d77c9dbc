"""Node console output in Lambda's format (contract §7.4), framed by START/END/REPORT."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.runtimes.node.conftest import RuntimeFactory, node_function

pytestmark = pytest.mark.node

APP = """
console.log('at init');
exports.handler = async () => {
  console.log('plain', 1, { a: 1 });
  console.info('two\\nlines');
  console.warn('careful');
  console.error('bad', new Error('oops').message);
  console.debug('dbg');
  console.trace('trc');
  return null;
};
"""
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_console_lines(runtime: RuntimeFactory, tmp_path: Path) -> None:
    rt = runtime(node_function(tmp_path, "logger", {"index.js": APP}))
    result = rt.invoke("logger", {})
    rid = result.request_id
    lines = result.logs.split("\n")
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    end = lines.index(f"END RequestId: {rid}")
    assert re.fullmatch(rf"{ISO}\tundefined\tINFO\tat init", lines[start - 1])
    inside = lines[start + 1 : end]
    expected = [
        ("INFO", "plain 1 { a: 1 }"),
        ("INFO", "two\rlines"),
        ("WARN", "careful"),
        ("ERROR", "bad oops"),
        ("DEBUG", "dbg"),
        ("TRACE", "trc"),
    ]
    assert len(inside) == len(expected)
    for line, (level, message) in zip(inside, expected, strict=True):
        assert re.fullmatch(rf"{ISO}\t{rid}\t{level}\t{re.escape(message)}", line), line
    assert lines[end + 1].startswith(f"REPORT RequestId: {rid}\tDuration: ")


def test_log_level_filter(runtime: RuntimeFactory, tmp_path: Path) -> None:
    fn = node_function(
        tmp_path, "quiet", {"index.js": APP}, environment={"AWS_LAMBDA_LOG_LEVEL": "WARN"}
    )
    result = runtime(fn).invoke("quiet", {})
    assert "\tWARN\tcareful" in result.logs and "\tERROR\tbad oops" in result.logs
    assert "\tINFO\t" not in result.logs and "\tDEBUG\t" not in result.logs


NO_ARGS = """
exports.handler = async () => {
  console.log();
  console.error();
  return null;
};
"""


def test_console_without_arguments_logs_undefined(runtime: RuntimeFactory, tmp_path: Path) -> None:
    """As aws-lambda-ric's ``log(level, message, ...params)``: the message is ``undefined``."""
    text = node_function(tmp_path, "bare", {"index.js": NO_ARGS})
    json_fn = node_function(
        tmp_path, "bare_json", {"index.js": NO_ARGS}, environment={"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    )
    rt = runtime(text, json_fn)
    logs = rt.invoke("bare", {}).logs
    assert "\tINFO\tundefined\n" in logs and "\tERROR\tundefined\n" in logs
    records = [
        json.loads(line)
        for line in rt.invoke("bare_json", {}).logs.splitlines()
        if line.startswith("{")
    ]
    assert [(r["level"], "message" in r) for r in records] == [("INFO", False), ("ERROR", False)]
