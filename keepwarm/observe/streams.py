"""A function's log streams read back from disk, as ``aws logs tail`` reads a log group.

Why offsets and cached listings: a stream file only grows (``LogStream`` appends to it), so each
is read once, forward from where the last read stopped; and a directory's mtime changes when a
stream is created in it, so a day directory is listed again only then. Following thus costs a
``stat`` per stream and per directory each round, however big the files and however old the
data dir; only bytes not read before are ever read.

Why whole streams, one after another: the files hold no time per line (Lambda's are CloudWatch
events with one; keepwarm writes the bytes as they come), so lines of two streams cannot be
interleaved in the order they were written. Streams come in the order of their last write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keepwarm.observe.logs import stream_of_file

CHUNK = 1 << 20  # bytes read at a time: a big stream is printed as it is read
RACY_NS = 2_000_000_000  # a directory changed this recently may change again within its mtime


@dataclass(frozen=True)
class Stream:
    """One environment's log stream: Lambda's name for it, its version, its file."""

    name: str
    version: str
    path: Path


class LineReader:
    """One stream file, read forward in complete lines.

    Why a held tail: the server writes function output as it comes, so the last line may be
    half written; it is returned once its newline is there, never in two pieces.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0  # bytes consumed, the held partial line included
        self._partial = bytearray()
        self._drop_first = False  # skip() started inside a line: its rest is not wanted

    def skip(self) -> None:
        """Start from the end: what the file holds now is not returned."""
        try:
            with self.path.open("rb") as file:
                size = file.seek(0, os.SEEK_END)
                ended = size == 0 or os.pread(file.fileno(), 1, size - 1) == b"\n"
        except FileNotFoundError:
            return
        self.offset, self._drop_first = size, not ended

    def lines(self) -> Iterator[bytes]:
        """The complete lines added since the last call (without their newline), read up to
        the size the file has now; nothing when it did not grow or is gone."""
        try:
            size = os.stat(self.path).st_size
            if size == self.offset:
                return
            file = self.path.open("rb")
        except FileNotFoundError:
            return
        with file:
            if size < self.offset:  # replaced or truncated (not by keepwarm): read it anew
                self.offset, self._partial = 0, bytearray()
            file.seek(self.offset)
            while self.offset < size:
                chunk = file.read(min(CHUNK, size - self.offset))
                if not chunk:
                    return
                self.offset += len(chunk)
                yield from self._complete(chunk)

    def _complete(self, chunk: bytes) -> Iterator[bytes]:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            self._partial += chunk
            return
        block = bytes(self._partial) + chunk[:cut] if self._partial else chunk[:cut]
        self._partial = bytearray(chunk[cut:])
        lines = block.split(b"\n")[:-1]
        if self._drop_first:
            self._drop_first = False
            lines = lines[1:]
        yield from lines


class Listing:
    """Directory entries, listed again only when the directory changed (or may have)."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple[int, list[str]]] = {}

    def entries(self, directory: Path) -> tuple[list[str], bool]:
        """The names in ``directory`` and whether they were just listed (they may be new)."""
        try:
            mtime = os.stat(directory).st_mtime_ns
            cached = self._seen.get(directory)
            if cached is not None and cached[0] == mtime and time.time_ns() - mtime > RACY_NS:
                return cached[1], False
            names = sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            self._seen.pop(directory, None)
            return [], False
        self._seen[directory] = (mtime, names)
        return names, True


class LogGroup:
    """A function's streams on disk (``<function dir>/YYYY/MM/DD/<version>_<32 hex>.log``),
    of one version or all."""

    def __init__(self, root: Path, version: str | None = None) -> None:
        self.root = root
        self.version = version
        self._listing = Listing()
        self._known: set[Path] = set()

    def new_streams(self) -> list[Stream]:
        """Streams not returned before (every one at the first call)."""
        found: list[Stream] = []
        for day in self._days():
            names, fresh = self._listing.entries(self.root / day)
            for name in names if fresh else ():
                path = self.root / day / name
                if path not in self._known:
                    self._known.add(path)
                    stream = self._stream(f"{day}/{name}")
                    found += [stream] if stream is not None else []
        return found

    def _days(self) -> Iterator[str]:
        """``YYYY/MM/DD`` of every day directory (listed again only where one was added)."""
        for year in self._listing.entries(self.root)[0]:
            for month in self._listing.entries(self.root / year)[0]:
                for day in self._listing.entries(self.root / year / month)[0]:
                    yield f"{year}/{month}/{day}"

    def _stream(self, relative: str) -> Stream | None:
        parsed = stream_of_file(relative)
        if parsed is None or (self.version is not None and parsed[1] != self.version):
            return None
        return Stream(parsed[0], parsed[1], self.root / relative)


class Tail:
    """What ``keepwarm logs`` prints: the streams on disk, then what is added to them.

    ``text``: only lines containing it. ``since_s``: streams not written to for that long are
    left out of the backlog (and followed from their end).
    """

    def __init__(
        self,
        group: LogGroup,
        *,
        text: bytes | None = None,
        since_s: float | None = None,
        now: float | None = None,
    ) -> None:
        self.group = group
        self.text = text
        self.since_s = since_s
        self._now = now
        self._readers: dict[Path, tuple[Stream, LineReader]] = {}

    def backlog(self) -> Iterator[tuple[Stream, bytes]]:
        """Every stream's lines, the stream written to least recently first."""
        now = self._now if self._now is not None else time.time()
        cutoff = None if self.since_s is None else now - self.since_s
        dated = sorted(self._dated(self.group.new_streams()), key=lambda d: (d[0], d[1].name))
        for written, stream in dated:
            reader = self._reader(stream)
            if cutoff is not None and written < cutoff:
                reader.skip()
            else:
                yield from self._lines(stream, reader)

    def poll(self) -> Iterator[tuple[Stream, bytes]]:
        """Lines added since the last call: to the streams already read, then to new streams
        (each from its start)."""
        for stream in self.group.new_streams():
            self._reader(stream)
        for stream, reader in list(self._readers.values()):
            yield from self._lines(stream, reader)

    def _reader(self, stream: Stream) -> LineReader:
        reader = LineReader(stream.path)
        self._readers[stream.path] = (stream, reader)
        return reader

    def _lines(self, stream: Stream, reader: LineReader) -> Iterator[tuple[Stream, bytes]]:
        for line in reader.lines():
            if self.text is None or self.text in line:
                yield stream, line

    @staticmethod
    def _dated(streams: list[Stream]) -> list[tuple[float, Stream]]:
        dated: list[tuple[float, Stream]] = []
        for stream in streams:
            try:
                dated.append((stream.path.stat().st_mtime, stream))
            except FileNotFoundError:
                continue
        return dated
