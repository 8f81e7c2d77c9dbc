"""Log streams read back from disk (what ``keepwarm logs`` prints): complete lines only, only
what was added, new streams found, streams selected by version and age.

The files are written by ``LogStream``, the writer the server uses.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from keepwarm.observe.logs import LogStream, stream_of_file
from keepwarm.observe.streams import CHUNK, Listing, LogGroup, Tail

HOUR = 3600.0


def stream(root: Path, version: str = "$LATEST", *lines: str) -> LogStream:
    written = LogStream(root, "fn", version)
    for line in lines:
        written.write(line.encode())
    return written


def printed(lines: object) -> list[tuple[str, str]]:
    return [(s.name, line.decode()) for s, line in lines]  # type: ignore[attr-defined]


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_stream_file_names_its_stream_as_lambda_does(tmp_path: Path) -> None:
    for version in ("$LATEST", "12"):
        written = stream(tmp_path, version)
        relative = written.path.relative_to(tmp_path / "fn").as_posix()
        assert stream_of_file(relative) == (written.name, version)
    assert stream_of_file("2024/05/01/notes.txt") is None
    assert stream_of_file("2024/05/01/$LATEST_0123.log") is None


def test_a_half_written_line_is_printed_once_complete_and_whole(tmp_path: Path) -> None:
    written = stream(tmp_path, "$LATEST", "first\nprogress: 50%")
    tail = Tail(LogGroup(tmp_path / "fn"))
    assert printed(tail.backlog()) == [(written.name, "first")]
    assert printed(tail.poll()) == []
    written.write(b", 100%")
    assert printed(tail.poll()) == []
    written.write(b"\nlast\n")
    assert printed(tail.poll()) == [(written.name, "progress: 50%, 100%"), (written.name, "last")]


def test_lines_across_read_chunks_come_out_unchanged(tmp_path: Path) -> None:
    long_line = "y" * (CHUNK + 10)  # longer than one read: held across reads
    lines = [f"line {i} " + "x" * (i % 300) for i in range(30_000)] + [long_line, "end"]
    written = stream(tmp_path, "$LATEST", "\n".join(lines) + "\n")
    assert written.path.stat().st_size > 3 * CHUNK
    out = printed(Tail(LogGroup(tmp_path / "fn")).backlog())
    assert [line for _, line in out] == lines


def read_bytes() -> int:
    """Bytes this process has read through read(2) and friends so far (Linux)."""
    io = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(io["rchar"])


def test_following_reads_only_what_was_added(tmp_path: Path) -> None:
    big = stream(tmp_path, "$LATEST", ("z" * 99 + "\n") * 80_000)  # 8 MB
    for _ in range(20):
        stream(tmp_path, "$LATEST", "quiet\n")
    tail = Tail(LogGroup(tmp_path / "fn"))
    assert len(list(tail.backlog())) == 80_000 + 20
    big.write(b"one more\n")
    before = read_bytes()
    assert printed(tail.poll()) == [(big.name, "one more")]
    assert read_bytes() - before < 64 * 1024


def test_a_stream_created_within_the_same_directory_mtime_is_still_found(tmp_path: Path) -> None:
    """A directory's mtime has a coarse clock: a stream created just after the directory was
    listed may leave it unchanged, so a recently changed directory is listed again."""
    first = stream(tmp_path, "$LATEST", "a\n")
    day = first.path.parent
    tail = Tail(LogGroup(tmp_path / "fn"))
    list(tail.backlog())
    listed = day.stat().st_mtime_ns
    second = stream(tmp_path, "$LATEST", "b\n")
    assert second.path.parent == day
    os.utime(day, ns=(listed, listed))  # as if created within the same clock tick
    assert printed(tail.poll()) == [(second.name, "b")]


def test_an_unchanged_old_directory_is_not_listed_again(tmp_path: Path) -> None:
    listing = Listing()
    (tmp_path / "a").touch()
    age(tmp_path, HOUR)
    assert listing.entries(tmp_path) == (["a"], True)
    assert listing.entries(tmp_path) == (["a"], False)
    (tmp_path / "b").touch()
    assert listing.entries(tmp_path) == (["a", "b"], True)


def test_streams_come_least_recently_written_first(tmp_path: Path) -> None:
    streams = [stream(tmp_path, "$LATEST", f"s{i}\n") for i in range(4)]
    for i, written in enumerate(streams):
        age(written.path, 100 - 10 * ((i * 3) % 4))  # written in the order 0, 3, 2, 1
    out = printed(Tail(LogGroup(tmp_path / "fn")).backlog())
    assert [line for _, line in out] == ["s0", "s3", "s2", "s1"]


def test_version_and_since_select_streams_and_old_ones_are_followed_from_their_end(
    tmp_path: Path,
) -> None:
    old = stream(tmp_path, "$LATEST", "old\nhalf a li")
    published = stream(tmp_path, "1", "one\n")
    recent = stream(tmp_path, "$LATEST", "recent\n")
    age(old.path, 2 * HOUR)

    latest = Tail(LogGroup(tmp_path / "fn", "$LATEST"), since_s=HOUR)
    assert printed(latest.backlog()) == [(recent.name, "recent")]
    old.write(b"ne\nwoke up\n")
    published.write(b"two\n")
    assert printed(latest.poll()) == [(old.name, "woke up")]

    version_1 = Tail(LogGroup(tmp_path / "fn", "1"))
    assert printed(version_1.backlog()) == [(published.name, "one"), (published.name, "two")]


def test_text_selects_lines(tmp_path: Path) -> None:
    written = stream(tmp_path, "$LATEST", "START x\nsaid hello\nREPORT x\n")
    tail = Tail(LogGroup(tmp_path / "fn"), text=b"hello")
    assert printed(tail.backlog()) == [(written.name, "said hello")]
