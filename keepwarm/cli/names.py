"""Which function a name on the command line means: a FunctionName or a template's logical id.

Why: the runtime knows functions only by their FunctionName, while ``sam local invoke`` (and so
the user's habit) names them by logical id; a resource that sets FunctionName must be reachable
both ways. The template loader says which logical id became which FunctionName.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from keepwarm.template import read_template


def function_name(template: Path, requested: str, known: Collection[str]) -> str:
    """The FunctionName ``requested`` stands for; a FunctionName wins over a logical id.

    An unknown name comes back unchanged, so that the runtime reports it as not found.
    """
    if requested in known:
        return requested
    return read_template(template).logical_ids.get(requested, requested)
