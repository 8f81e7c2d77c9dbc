"""Small helpers shared by the suites: write a function's code, wait for files, list processes."""

from __future__ import annotations

import ctypes
import os
import re
import textwrap
import time
from pathlib import Path

from keepwarm import FunctionConfig

REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<d>\d+\.\d{2}) ms\t"
    r"Billed Duration: (?P<b>\d+) ms\tMemory Size: (?P<m>\d+) MB\t"
    r"Max Memory Used: (?P<u>\d+) MB\t(Init Duration: (?P<i>\d+\.\d{2}) ms\t)?"
    r"(Status: (?P<status>\w+)(\tError Type: (?P<etype>[\w.]+))?)?$",
    re.MULTILINE,
)

# Counts its calls (globals survive warm reuse) and sleeps event["sleep"] seconds if asked.
SLEEPY_COUNTER = """
import os, time
n = 0
def handler(event, context):
    global n
    n += 1
    time.sleep(event.get("sleep", 0))
    return {"n": n, "pid": os.getpid()}
"""


def write_code(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return directory


def function(
    tmp: Path, name: str, source: str, handler: str = "app.handler", **kw: object
) -> FunctionConfig:
    code = write_code(tmp / f"code-{name}", {handler.rsplit(".", 1)[0] + ".py": source})
    return FunctionConfig(name=name, handler=handler, code_dir=code, **kw)  # type: ignore[arg-type]


def echo_template(root: Path, logical_id: str, transform: bool = True) -> Path:
    """``root/template.yaml``: one Python function, ``logical_id``, answering ``{"got": event}``,
    its code in ``root/src``."""
    code = write_code(root / "src", {"app.py": "def handler(e, c):\n    return {'got': e}\n"})
    head = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
    template = root / "template.yaml"
    template.write_text(
        (head if transform else "")
        + f"Resources:\n  {logical_id}:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      Handler: app.handler\n      Runtime: python3.12\n      CodeUri: {code}\n"
    )
    return template


# What keepwarm serve gives as StateReason for ``MemorySize: 1``: Lambda's words.
TOO_LITTLE_MEMORY = (
    "1 validation error detected: Value '1' at 'memorySize' failed to satisfy constraint: "
    "Member must have value greater than or equal to 128"
)


def template_with_a_broken_function(
    root: Path, names: tuple[str, ...] = ("Good",), problem: str = "MemorySize: 1"
) -> Path:
    """``root/template.yaml``: functions ``names`` answering ``{"got": event}`` and ``Broken``
    (FunctionName ``broken-fn``), which cannot run because of ``problem`` among its
    Properties; ``problem`` under ``Globals`` when it starts with "Globals"."""
    code = write_code(root / "src", {"app.py": "def handler(e, c):\n    return {'got': e}\n"})
    props = f"Handler: app.handler, Runtime: python3.12, CodeUri: {code}"
    head, own = ("", f", {problem}")
    if problem.startswith("Globals"):
        head, own = f"{problem}\n", ""
    good = "".join(
        f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties: {{{props}}}\n"
        for name in names
    )
    broken = (
        "  Broken:\n    Type: AWS::Serverless::Function\n"
        f"    Properties: {{FunctionName: broken-fn, {props}{own}}}\n"
    )
    template = root / "template.yaml"
    template.write_text(f"{head}Resources:\n{good}{broken}")
    return template


def wait_for(predicate: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def keepwarm_processes(under: int | None = None) -> list[int]:
    """Processes that are keepwarm environments or fork servers (for leak checks); with
    ``under``, only those descending from that process."""
    parents = _parents()
    found = []
    for pid in parents:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        mine = under is None or _descends(pid, under, parents)
        if b"keepwarm.env.zygote" in cmd and alive(pid) and mine:
            found.append(pid)
    return found


def _parents() -> dict[int, int]:
    out = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                out[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return out


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    seen = set()
    while pid in parents and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = parents[pid]
    return False


def become_subreaper() -> None:
    """Keep every orphaned descendant below this process (``PR_SET_CHILD_SUBREAPER``).

    Why: pytest-xdist runs the suite in parallel workers, and each worker's leak check must
    see its own leaks only. Without this, a fork server whose server died would move to PID 1
    and be nobody's; as a subreaper the worker keeps it in its own process tree.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


PR_SET_CHILD_SUBREAPER = 36
