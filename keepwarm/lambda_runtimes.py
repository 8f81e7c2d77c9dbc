"""Lambda's runtime identifiers, beyond the ones keepwarm runs (``config.RUNTIMES``).

Why: CreateFunction with a runtime Lambda has and keepwarm cannot run (``java17``) deserves
keepwarm's reason, not Lambda's enum message for a value Lambda does not know; and a runtime
Lambda itself no longer takes for new or updated functions (``python3.7``) gets Lambda's own
refusal, as the same call to AWS would. (Not to be confused with ``keepwarm.runtimes``, the
runtimes that run inside environments.)
"""

from __future__ import annotations

from keepwarm.config import NODE_RUNTIMES, PYTHON_RUNTIMES, RUNTIMES
from keepwarm.errors import InvalidParameterValue

# botocore's ``Runtime`` enum (lambda 2015-03-31); tests/test_lambda_runtimes.py keeps it in step.
LAMBDA_RUNTIMES = frozenset(
    {
        "custom",
        "dotnet10",
        "dotnet6",
        "dotnet8",
        "dotnetcore1.0",
        "dotnetcore2.0",
        "dotnetcore2.1",
        "dotnetcore3.1",
        "go1.x",
        "java11",
        "java11.al2023",
        "java17",
        "java17.al2023",
        "java21",
        "java25",
        "java8",
        "java8.al2",
        "java8.al2023",
        "nodejs",
        "nodejs10.x",
        "nodejs12.x",
        "nodejs14.x",
        "nodejs16.x",
        "nodejs18.x",
        "nodejs20.x",
        "nodejs22.x",
        "nodejs24.x",
        "nodejs26.x",
        "nodejs4.3",
        "nodejs4.3-edge",
        "nodejs6.10",
        "nodejs8.10",
        "provided",
        "provided.al2",
        "provided.al2023",
        "python2.7",
        "python3.10",
        "python3.11",
        "python3.12",
        "python3.13",
        "python3.14",
        "python3.15",
        "python3.6",
        "python3.7",
        "python3.8",
        "python3.9",
        "ruby2.5",
        "ruby2.7",
        "ruby3.2",
        "ruby3.3",
        "ruby3.4",
        "ruby4.0",
    }
)

# Runtimes past Lambda's "block function create" date (its deprecated-runtimes table), with the
# runtime its refusal recommends: the newest of the language (for Python and Node.js, the newest
# keepwarm runs). Lambda refuses them for CreateFunction and UpdateFunctionConfiguration alike.
DEPRECATED = {
    "nodejs": "nodejs24.x",
    "nodejs4.3": "nodejs24.x",
    "nodejs4.3-edge": "nodejs24.x",
    "nodejs6.10": "nodejs24.x",
    "nodejs8.10": "nodejs24.x",
    "nodejs10.x": "nodejs24.x",
    "nodejs12.x": "nodejs24.x",
    "nodejs14.x": "nodejs24.x",
    "nodejs16.x": "nodejs24.x",
    "python2.7": "python3.14",
    "python3.6": "python3.14",
    "python3.7": "python3.14",
    "python3.8": "python3.14",
    "java8": "java25",
    "dotnetcore1.0": "dotnet10",
    "dotnetcore2.0": "dotnet10",
    "dotnetcore2.1": "dotnet10",
    "dotnetcore3.1": "dotnet10",
    "ruby2.5": "ruby3.4",
    "ruby2.7": "ruby3.4",
    "go1.x": "provided.al2023",
}

_PY = sorted(int(r.removeprefix("python3.")) for r in PYTHON_RUNTIMES)
_NODE = sorted(int(r.removeprefix("nodejs").removesuffix(".x")) for r in NODE_RUNTIMES)
WHAT_RUNS = f"Python 3.{_PY[0]}-3.{_PY[-1]}, Node.js {_NODE[0]}-{_NODE[-1]}, provided"


def not_run(runtime: str) -> str:
    """The reason a runtime Lambda has is not served: the same words for a template and the API."""
    return f"runtime {runtime} is not one keepwarm runs ({WHAT_RUNS})."


def check_lambda_runtime(runtime: str) -> None:
    """Refuse a runtime Lambda knows and keepwarm does not take, in the words that say why.

    Leaves alone the runtimes keepwarm runs and values Lambda does not know (``cobol9``): the
    latter ``config.check_runtime`` refuses with Lambda's enum-constraint message.
    """
    if runtime in RUNTIMES or runtime not in LAMBDA_RUNTIMES:
        return
    newer = DEPRECATED.get(runtime)
    if newer is not None:
        raise InvalidParameterValue(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            f"AWS Lambda functions. We recommend you use the new runtime ({newer}) while creating "
            "or updating functions."
        )
    message = not_run(runtime)
    raise InvalidParameterValue(message[0].upper() + message[1:])
