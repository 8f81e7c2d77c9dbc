"""pytest plugin: test your own Lambda functions in real, reused execution environments.

Why a plugin: a unit test that calls ``handler(event, None)`` in the test process never sees
what Lambda does between calls (globals and ``/tmp`` kept, a fresh environment now and then).
The ``lambda_runtime`` fixture runs the template's functions the way Lambda does, with reuse
and leak checking chosen per test by the ``keepwarm`` marker::

    @pytest.mark.keepwarm(reuse="never", check_leaks=True, max_invocations_per_env=1)
    def test_payment(lambda_runtime):
        result = lambda_runtime.invoke("Payment", {...})
        lambda_runtime.assert_no_leaks(result)

The template comes from the ``keepwarm_template`` ini option (default ``template.yaml``, relative
to the rootdir). Enabled by the ``pytest11`` entry point, or ``-p keepwarm.pytest_plugin``.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from keepwarm.api import Runtime
from keepwarm.config import ServerConfig
from keepwarm.errors import BadFunction, KeepwarmError, TemplateError
from keepwarm.invocation import InvocationResult

MARKER_ARGS = frozenset({"reuse", "check_leaks", "max_invocations_per_env", "template"})
_RESULTS = pytest.StashKey[list[InvocationResult]]()


class FunctionFailed(AssertionError):
    """An invocation that was expected to succeed returned a function error."""


class LeakFound(AssertionError):
    """Request data was still reachable after the invocation (``check_leaks``)."""


def describe_error(result: InvocationResult) -> str:
    """errorType, message, the function's stack trace and its log lines, for a person."""
    try:
        body: Any = json.loads(result.payload)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    kind = body.get("errorType") or result.function_error
    lines = [f"{result.function_name} failed with {kind}: {body.get('errorMessage', '')}"]
    trace = body.get("stackTrace") or []
    if trace:
        lines.append("Stack trace (inside the function):")
        lines.extend(textwrap.indent(str(frame).rstrip("\n"), "  ") for frame in trace)
    lines.append(_log_block(result))
    return "\n".join(lines)


def describe_leaks(result: InvocationResult) -> str:
    head = (
        f"{result.function_name} left request data reachable after invocation "
        f"{result.request_id} ({result.start_kind.value} start):"
    )
    body = [f"  {leak.location} holds event field {leak.event_field}" for leak in result.leaks]
    return "\n".join([head, *body])


def _log_block(result: InvocationResult) -> str:
    logs = result.logs.replace("\r", "\n").rstrip("\n") or "(no log lines)"
    return f"Log of request {result.request_id}:\n" + textwrap.indent(logs, "  ")


class LambdaRuntime:
    """What the ``lambda_runtime`` fixture gives a test: invoke, inspect, assert."""

    def __init__(self, runtime: Runtime, server: ServerConfig, results: list[InvocationResult]):
        self.runtime = runtime
        self.server = server
        self.results = results

    def invoke(self, function: str, event: Any = None, **kwargs: Any) -> InvocationResult:
        """One invocation; the result (ok or not) is also kept for the failure report. A
        template function that cannot run fails the test with its reason, without a traceback
        through keepwarm."""
        try:
            result = self.runtime.invoke(function, event, **kwargs)
        except BadFunction as exc:
            raise _failure(f"keepwarm: {exc}") from None
        self.results.append(result)
        return result

    def call(self, function: str, event: Any = None, **kwargs: Any) -> Any:
        """Invoke and return the decoded payload; a function error fails the test, explained."""
        return self.assert_ok(self.invoke(function, event, **kwargs))

    def environments(self, function: str) -> list[dict[str, Any]]:
        return self.runtime.environments(function)

    @staticmethod
    def assert_ok(result: InvocationResult) -> Any:
        """The decoded payload; raises ``FunctionFailed`` with the error and its logs."""
        __tracebackhide__ = True
        if not result.ok:
            raise FunctionFailed(describe_error(result))
        return result.json()

    @staticmethod
    def assert_no_leaks(result: InvocationResult) -> None:
        """Raises ``LeakFound`` naming each location and event field (needs ``check_leaks``)."""
        __tracebackhide__ = True
        if result.leaks:
            raise LeakFound(describe_leaks(result))

    @staticmethod
    def assert_leaked(result: InvocationResult, field: str, location: str | None = None) -> None:
        """The opposite check, for tests that pin a known leak (e.g. while fixing it)."""
        __tracebackhide__ = True
        found = [
            leak
            for leak in result.leaks
            if leak.event_field == field and (location is None or leak.location == location)
        ]
        if not found:
            where = f" at {location}" if location else ""
            seen = ", ".join(f"{x.location} ({x.event_field})" for x in result.leaks) or "none"
            raise AssertionError(f"expected a leak of {field}{where}; found: {seen}")


def _failure(message: str) -> BaseException:
    """``pytest.fail`` as an exception to raise ``from None``: the keepwarm error it replaces
    would otherwise be printed above it, traceback and all."""
    return pytest.fail.Exception(message, pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "keepwarm_template",
        "SAM template for the lambda_runtime fixture (relative to the rootdir).",
        default="template.yaml",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "keepwarm(reuse='always'|'never'|'random:P', check_leaks=False, "
        "max_invocations_per_env=None, template=None): settings of the lambda_runtime fixture",
    )


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("keepwarm")
    options = dict(marker.kwargs) if marker is not None else {}
    unknown = set(options) - MARKER_ARGS
    if unknown or (marker is not None and marker.args):
        pytest.fail(
            f"keepwarm marker takes only keyword arguments {sorted(MARKER_ARGS)}; "
            f"got {sorted(unknown) or list(marker.args if marker else [])}",
            pytrace=False,
        )
    return options


def _template(config: pytest.Config, given: str | None) -> Path:
    path = Path(given or str(config.getini("keepwarm_template")))
    return path if path.is_absolute() else config.rootpath / path


@pytest.fixture
def lambda_runtime(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LambdaRuntime]:
    """The template's functions in real environments, closed (no processes left) after the test."""
    options = _settings(request)
    template = _template(request.config, options.pop("template", None))
    if not template.is_file():
        pytest.fail(f"keepwarm: template not found: {template}", pytrace=False)
    try:
        server = ServerConfig(data_dir=tmp_path_factory.mktemp("keepwarm"), **options)
    except KeepwarmError as exc:
        pytest.fail(f"keepwarm marker: {exc}", pytrace=False)
    results: list[InvocationResult] = []
    request.node.stash[_RESULTS] = results
    try:
        runtime = Runtime(template=template, server=server)
    except TemplateError as exc:
        raise _failure(f"keepwarm: {exc}") from None
    with runtime:
        yield LambdaRuntime(runtime, server, results)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test shows each invocation it made, with its logs (START ... REPORT)."""
    report = yield
    results = item.stash.get(_RESULTS, None)
    if report.failed and call.when == "call" and results:
        text = "\n\n".join(_summary(r) for r in results)
        report.sections.append(("keepwarm invocations", text))
    return report


def _summary(result: InvocationResult) -> str:
    status = "ok" if result.ok else f"error {result.error_type}"
    head = f"{result.function_name}: {result.start_kind.value} start, env {result.env_id}, {status}"
    leaks = "".join(f"\nLEAK {x.location} <- {x.event_field}" for x in result.leaks)
    return f"{head}{leaks}\n{_log_block(result)}"


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: Any, right: Any
) -> list[str] | None:
    """``assert result == expected`` compares the decoded payload, and says why it did not."""
    if op != "==" or not (
        isinstance(left, InvocationResult) or isinstance(right, InvocationResult)
    ):
        return None
    result = left if isinstance(left, InvocationResult) else right
    if not result.ok:
        return ["the invocation failed:", *describe_error(result).splitlines()]
    other = right if result is left else left
    return [
        f"an InvocationResult is not its payload: compare result.json() == {other!r}",
        f"payload: {result.payload.decode('utf-8', 'replace')}",
    ]
