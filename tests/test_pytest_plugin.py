"""The pytest plugin as a user meets it: their own test suite, run by a real pytest process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import TOO_LITTLE_MEMORY, template_with_a_broken_function

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CARD = json.loads((EXAMPLES / "events" / "payment.json").read_text())

USER_SUITE = f"""
import pytest

CARD = {CARD!r}


@pytest.mark.keepwarm(check_leaks=True)
def test_payment_is_leak_free(lambda_runtime):
    result = lambda_runtime.invoke("Payment", CARD)
    assert lambda_runtime.call("Payment", CARD)["card_last4"] == "1111"
    lambda_runtime.assert_no_leaks(result)


@pytest.mark.keepwarm(check_leaks=True)
def test_fixed_payment_is_leak_free(lambda_runtime):
    result = lambda_runtime.invoke("PaymentFixed", CARD)
    lambda_runtime.assert_no_leaks(result)
    assert lambda_runtime.assert_ok(result)["card_last4"] == "1111"


@pytest.mark.keepwarm(check_leaks=True)
def test_payment_leak_pinned(lambda_runtime):
    result = lambda_runtime.invoke("Payment", CARD)
    lambda_runtime.assert_leaked(result, "credit_card_number", "payment.credit_card['number']")


@pytest.mark.keepwarm(reuse="never")
def test_greeting_never_reused(lambda_runtime):
    assert [lambda_runtime.call("Greeting") for _ in range(3)] == ["hello"] * 3


def test_greeting_reused_by_default(lambda_runtime):
    assert [lambda_runtime.call("Greeting") for _ in range(3)] == ["hello", "it's me", "it's me"]


@pytest.mark.keepwarm(max_invocations_per_env=1)
def test_one_invocation_per_environment(lambda_runtime):
    kinds = [lambda_runtime.invoke("Counter").start_kind.value for _ in range(3)]
    assert kinds == ["cold", "cold", "cold"]


def test_invalid_card(lambda_runtime):
    lambda_runtime.call("PaymentFixed", dict(CARD, credit_card_number="0000000000000000"))


def test_compare_failed_result(lambda_runtime):
    result = lambda_runtime.invoke("PaymentFixed", dict(CARD, credit_card_number="0000000000000"))
    assert result == {{"message": "Payment okay"}}
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(f"[pytest]\nkeepwarm_template = {EXAMPLES / 'template.yaml'}\n")
    pytester.makepyfile(test_user=USER_SUITE)
    return pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The plugin loads through its ``pytest11`` entry point, as in a user's project."""
    return suite.runpytest_subprocess(*args, timeout=300)


def test_user_suite_outcomes(suite: pytest.Pytester) -> None:
    result = run(suite)
    result.assert_outcomes(passed=5, failed=3)
    out = result.stdout.str()
    assert "FAILED test_user.py::test_payment_is_leak_free" in out
    assert "FAILED test_user.py::test_invalid_card" in out
    assert "FAILED test_user.py::test_compare_failed_result" in out


def test_leak_failure_names_location_and_field(suite: pytest.Pytester) -> None:
    result = run(suite, "-k", "test_payment_is_leak_free")
    result.stdout.fnmatch_lines(
        [
            "E *keepwarm.pytest_plugin.LeakFound: Payment left request data reachable after "
            "invocation * (cold start):",
            "E *  payment.credit_card?'number'? holds event field credit_card_number",
        ]
    )


def test_function_error_shows_type_message_trace_and_logs(suite: pytest.Pytester) -> None:
    result = run(suite, "-k", "test_invalid_card")
    result.stdout.fnmatch_lines(
        [
            "E *keepwarm.pytest_plugin.FunctionFailed: PaymentFixed failed with "
            "InvalidCardError: Invalid card",
            "E *Stack trace (inside the function):",
            '*File "*payment_fixed.py", line *, in handler*',
            "E *Log of request *:",
            "E *START RequestId: * Version: $LATEST",
            "*- keepwarm invocations -*",
            "PaymentFixed: cold start, env *, error InvalidCardError",
        ]
    )


def test_comparing_a_failed_result_explains_the_error(suite: pytest.Pytester) -> None:
    result = run(suite, "-k", "test_compare_failed_result")
    result.stdout.fnmatch_lines(
        ["E   *the invocation failed:", "E   *failed with InvalidCardError*"]
    )


def test_marker_rejects_unknown_arguments(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nkeepwarm_template = {EXAMPLES / 'template.yaml'}\n")
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.keepwarm(reuse_mode="never")
        def test_x(lambda_runtime):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*keepwarm marker takes only keyword arguments*reuse_mode*"])


def test_missing_template_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(lambda_runtime):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*keepwarm: template not found: *template.yaml*"])


def test_marker_values_are_checked_like_the_api_s(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\nkeepwarm_template = {EXAMPLES / 'template.yaml'}\n")
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.parametrize("n", [0, -1, 2.5, "2", True])
        def test_x(request, n):
            request.applymarker(pytest.mark.keepwarm(max_invocations_per_env=n))
            request.getfixturevalue("lambda_runtime")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        ["*keepwarm marker: max_invocations_per_env must be a whole number, at least 1*"]
    )
    assert "TypeError" not in result.stdout.str()


BROKEN_SUITE = """
def test_good(lambda_runtime):
    assert lambda_runtime.call("Good", {"a": 1}) == {"got": {"a": 1}}


def test_broken(lambda_runtime):
    lambda_runtime.call("broken-fn")
"""


def test_a_function_that_cannot_run_fails_only_the_tests_that_call_it(
    pytester: pytest.Pytester,
) -> None:
    """It used to be an error in every test of the suite, each with a traceback through
    keepwarm. The line about it is a captured log, so a passing run prints nothing."""
    template = template_with_a_broken_function(pytester.path / "project")
    pytester.makeini(f"[pytest]\nkeepwarm_template = {template}\n")
    pytester.makepyfile(test_user=BROKEN_SUITE)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert f"\nkeepwarm: Function Broken: {TOO_LITTLE_MEMORY}\n" in out
    assert "Traceback" not in out and "BadFunction" not in out and "api.py" not in out
    quiet = run(pytester, "-k", "test_good")
    quiet.assert_outcomes(passed=1)
    assert "cannot run" not in quiet.stdout.str() + quiet.stderr.str()


def test_a_template_of_which_nothing_runs_is_one_line_per_test(
    pytester: pytest.Pytester,
) -> None:
    template = template_with_a_broken_function(
        pytester.path / "project", problem="Globals: {Function: {MemorySize: 1}}"
    )
    pytester.makeini(f"[pytest]\nkeepwarm_template = {template}\n")
    pytester.makepyfile(test_user=BROKEN_SUITE)
    result = run(pytester)
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    assert out.count(f"\nkeepwarm: Function Good: {TOO_LITTLE_MEMORY}\n") == 2
    assert "Traceback" not in out and "_sam_function.py" not in out
