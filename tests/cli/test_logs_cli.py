"""``keepwarm logs`` as a user runs it: real subprocesses reading the streams real invocations
wrote (``keepwarm invoke``, and a ``keepwarm serve`` still writing while ``-f`` follows)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.run import assert_one_line_error, assert_usage_error, keepwarm
from tests.helpers import write_code
from tests.lambda_api.kw_server import Server

STREAM = r"\d{4}/\d{2}/\d{2}/\[(\$LATEST|\d+)\][0-9a-f]{32}"
LINE = re.compile(rf"(?P<stream>{STREAM}) (?P<text>.*)")
SAYS = "def handler(event, context):\n    print(event.get('say', 'nothing'))\n    return 'ok'\n"


def project(tmp_path: Path, function_name: str | None = None) -> Path:
    """A template with one function, logical id ``Fn``, printing ``event["say"]``."""
    code = write_code(tmp_path / "src", {"app.py": SAYS})
    named = f"      FunctionName: {function_name}\n" if function_name else ""
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      CodeUri: {code}\n      Handler: app.handler\n      Runtime: python3.12\n{named}"
    )
    return path


def invoke(template: Path, data: Path, name: str = "Fn", *args: str) -> None:
    done = keepwarm("invoke", name, "-t", str(template), "-q", "--data-dir", str(data), *args)
    assert done.returncode == 0, done.stderr


def parsed(stdout: str) -> list[tuple[str, str]]:
    lines = []
    for line in stdout.splitlines():
        match = LINE.fullmatch(line)
        assert match is not None, line
        lines.append((match["stream"], match["text"]))
    return lines


def on_disk(data: Path, name: str) -> dict[str, list[str]]:
    """Each stream's lines as the files hold them, by Lambda's stream name."""
    streams = {}
    for path in (data / "logs" / name).rglob("*.log"):
        version, _, hex_id = path.stem.rpartition("_")
        day = path.parent.relative_to(data / "logs" / name).as_posix()
        streams[f"{day}/[{version}]{hex_id}"] = path.read_text().splitlines()
    return streams


def test_every_line_of_every_stream_after_its_stream_name(tmp_path: Path) -> None:
    template, data = project(tmp_path), tmp_path / "data"
    invoke(template, data, "Fn", "--times", "2", "--concurrency", "2", "--payload", '{"say":"hi"}')
    done = keepwarm("logs", "Fn", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    lines = parsed(done.stdout)
    streams = on_disk(data, "Fn")
    assert len(streams) == 2  # two environments, one stream each
    printed: dict[str, list[str]] = {}
    for stream, text in lines:
        printed.setdefault(stream, []).append(text)
    assert printed == streams
    assert [stream for stream, _ in lines] == sorted(  # one stream after the other
        (stream for stream, _ in lines), key=list(printed).index
    )
    for texts in printed.values():
        assert texts[0].startswith("INIT_START ")
        assert [t.split(" ")[0] for t in texts[1:]] == ["START", "hi", "END", "REPORT"] * 2


def test_filter_version_and_since_select(tmp_path: Path) -> None:
    template, data = project(tmp_path), tmp_path / "data"
    invoke(template, data, "Fn", "--payload", '{"say":"needle"}')
    invoke(template, data, "Fn", "--payload", '{"say":"hay"}')
    found = keepwarm("logs", "Fn", "--data-dir", str(data), "--filter", "needle")
    assert found.returncode == 0, found.stderr
    assert [text for _, text in parsed(found.stdout)] == ["needle"]
    reports = keepwarm("logs", "Fn", "--data-dir", str(data), "--filter", "REPORT", "--since", "1h")
    assert [t.split(" ")[0] for _, t in parsed(reports.stdout)] == ["REPORT", "REPORT"]
    for args in (["--version", "1"], ["--since", "0s"]):
        none = keepwarm("logs", "Fn", "--data-dir", str(data), *args)
        assert (none.returncode, none.stdout, none.stderr) == (0, "", "")
    latest = keepwarm("logs", "Fn", "--data-dir", str(data), "--version", "$LATEST")
    assert len(parsed(latest.stdout)) == 10


def test_a_logical_id_needs_the_template(tmp_path: Path) -> None:
    template, data = project(tmp_path, function_name="physical-fn"), tmp_path / "data"
    invoke(template, data, "Fn")
    by_id = keepwarm("logs", "Fn", "-t", str(template), "--data-dir", str(data))
    by_name = keepwarm("logs", "physical-fn", "--data-dir", str(data))
    assert by_id.returncode == by_name.returncode == 0, by_id.stderr + by_name.stderr
    assert by_id.stdout == by_name.stdout and "nothing" in by_id.stdout
    without = keepwarm("logs", "Fn", "--data-dir", str(data))
    assert_nothing(without, "no logs of function Fn in ", "needs -t TEMPLATE")


def assert_nothing(done: subprocess.CompletedProcess[str], *texts: str) -> None:
    """Nothing recorded there: one line and exit status 1, as ``keepwarm events``."""
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("keepwarm: ") and done.stderr.count("\n") == 1, done.stderr
    for text in texts:
        assert text in done.stderr


def test_nothing_to_show_is_one_line(tmp_path: Path) -> None:
    template, data = project(tmp_path), tmp_path / "data"
    invoke(template, data, "Fn")
    missing = keepwarm("logs", "Fn", "--data-dir", str(tmp_path / "nope"), "-f")
    assert_nothing(missing, f"no data dir {tmp_path / 'nope'}")
    unknown = keepwarm("logs", "Other", "--data-dir", str(data), "-f")
    assert_nothing(unknown, f"no logs of function Other in {data}: it has not run there yet")
    resolved = keepwarm("logs", "Other", "-t", str(template), "--data-dir", str(data))
    assert_nothing(resolved, "no logs of function Other in ")
    assert "-t TEMPLATE" not in resolved.stderr


def test_bad_values_are_usage_errors(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert_one_line_error(
        keepwarm("logs", "a/../b", "--data-dir", data),
        "Value 'a/../b' at 'functionName' failed to satisfy constraint",
    )
    assert_one_line_error(
        keepwarm("logs", "Fn", "-t", str(tmp_path / "none.yaml"), "--data-dir", data),
        "none.yaml",
    )
    for args, text in (
        (["--since", "5h30m"], "is not a number and one unit"),
        (["--version", "live"], "must be $LATEST or a version number"),
        (["--parameter-overrides", "A=1"], "needs -t/--template"),
    ):
        assert_usage_error(keepwarm("logs", "Fn", "--data-dir", data, *args), text)


class Follower:
    """``keepwarm logs ... -f`` running (``argv``, or these ``args`` of it), its stdout read
    line by line on a thread."""

    def __init__(self, *args: str, argv: list[str] | None = None) -> None:
        assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN, (
            "SIGINT is ignored here (a background job?): the command would inherit that"
        )
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "keepwarm.cli.main", "logs", *args, "-f"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: [self.lines.put(x) for x in out], daemon=True).start()

    def until(
        self, done: Callable[[str, str], bool], timeout: float = 60.0
    ) -> list[tuple[str, str]]:
        """The lines printed up to the first one ``done(stream, text)`` accepts."""
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    raise AssertionError(f"exited: {self.proc.communicate()[1]}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"not printed within {timeout}s; got {seen}") from None
                continue
            seen += parsed(line)
            if done(*seen[-1]):
                return seen

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, stderr = self.proc.communicate(timeout=30)
        finally:
            self.proc.kill()
        return self.proc.returncode, stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    args = ("-t", str(project(tmp_path)), "--max-invocations-per-env", "2")
    server = Server(tmp_path / "data", *args).start()
    yield server
    server.stop()


def test_follow_prints_new_lines_of_old_and_new_streams_until_ctrl_c(served: Server) -> None:
    """While ``keepwarm serve`` writes: a warm invocation adds to the stream already printed,
    the cold start that follows (environments retire after 2) writes a new one."""
    lam = served.client()

    def say(word: str) -> None:
        answer = lam.invoke(FunctionName="Fn", Payload=json.dumps({"say": word}))
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer

    say("first")
    follower = Follower("Fn", "--data-dir", str(served.data_dir))
    try:
        backlog = follower.until(lambda _, text: text.startswith("REPORT "))
        first = backlog[0][0]
        assert [text.split(" ")[0] for _, text in backlog] == [
            "INIT_START", "START", "first", "END", "REPORT"
        ]  # fmt: skip
        say("warm")
        warm = follower.until(lambda _, text: text.startswith("REPORT "))
        assert [text.split(" ")[0] for _, text in warm] == ["START", "warm", "END", "REPORT"]
        assert {stream for stream, _ in warm} == {first}
        say("cold")
        cold = follower.until(lambda _, text: text.startswith("REPORT "))
        assert [text.split(" ")[0] for _, text in cold] == [
            "INIT_START", "START", "cold", "END", "REPORT"
        ]  # fmt: skip
        (second,) = {stream for stream, _ in cold}
        assert second != first and "Init Duration" in cold[-1][1]
    finally:
        code, stderr = follower.interrupt()
    assert (code, stderr) == (0, "")


RAISES = "def handler(event, context):\n    raise ValueError('boom')\n"


def in_a_terminal(*args: str) -> bytes:
    """What the command writes to a terminal (a pseudo-terminal here), until it exits."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "400"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepwarm.cli.main", *args],
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(secondary)
    out = bytearray()
    with contextlib.suppress(OSError):  # EIO: the terminal's other end closed
        while chunk := os.read(primary, 65536):
            out += chunk
    os.close(primary)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return bytes(out).replace(b"\r\n", b"\n")  # the terminal's own line ends


def test_in_a_terminal_names_are_colored_and_a_traceback_is_shown_line_by_line(
    tmp_path: Path,
) -> None:
    """Lambda's Python runtime writes a traceback as one line joined by carriage returns:
    piped it stays one line, in a terminal it is shown as the lines it holds."""
    code = write_code(tmp_path / "src", {"app.py": RAISES})
    template, data = tmp_path / "template.yaml", tmp_path / "data"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      CodeUri: {code}\n      Handler: app.handler\n      Runtime: python3.12\n"
    )
    done = keepwarm("invoke", "Fn", "-t", str(template), "-q", "--data-dir", str(data))
    assert done.returncode == 1, done.stderr
    piped = subprocess.run(  # bytes: text mode would turn each \r into a line end
        [sys.executable, "-m", "keepwarm.cli.main", "logs", "Fn", "--data-dir", str(data)],
        capture_output=True,
        timeout=60,
    )
    (error,) = [line for line in piped.stdout.split(b"\n") if b"[ERROR]" in line]
    assert b"ValueError: boom\rTraceback (most recent call last):\r" in error

    shown = in_a_terminal("logs", "Fn", "--data-dir", str(data)).decode().split("\n")[:-1]
    (stream,) = {line.split(" ", 1)[0] for line in shown}
    assert stream.startswith("\x1b[") and re.search(STREAM, stream)  # a colored name
    texts = [line.split(" ", 1)[1] for line in shown]
    at = texts.index("[ERROR] ValueError: boom")
    assert texts[at + 1] == "Traceback (most recent call last):"
    assert texts[at + 2].endswith('File "/var/task/app.py", line 2, in handler')
