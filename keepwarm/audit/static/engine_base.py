"""What the Python and the JavaScript engines share: where the code is, how paths are shown,
which handlers a template names, where findings go, and the memo that keeps the
inter-procedural analysis finite (a function analysed once per argument shape; recursion cut)."""

from __future__ import annotations

from pathlib import Path
from typing import Generic, TypeVar

from keepwarm.audit.static.findings import Collector
from keepwarm.audit.static.taint import Taint

K = TypeVar("K")
M = TypeVar("M")
MK = TypeVar("MK")


class Engine(Generic[K, M, MK]):
    def __init__(
        self, root: Path, display: dict[Path, str], templates: dict[str, set[str]], out: Collector
    ) -> None:
        self.root = root
        self.display = display
        self.templates = templates
        self.out = out
        self.modules: dict[K, M | None] = {}
        self.memo: dict[MK, Taint | None] = {}
        self.active: set[MK] = set()
