"""The figures of docs/benchmarks.md: warm latency distributions and cold starts per system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def _box(ax: Any, series: dict[str, list[float]], title: str) -> None:
    names = [n for n, v in series.items() if v]
    ax.boxplot([series[n] for n in names], vert=False, showfliers=False, whis=(1, 99))
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log; box = quartiles, whiskers = p1-p99)")
    ax.set_title(title)
    ax.grid(axis="x", which="both", alpha=0.3)


def draw(warm: dict[str, list[float]], cold: dict[str, list[float]]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG.mkdir(parents=True, exist_ok=True)
    out = []
    for name, series, title in (
        ("bench-warm.png", warm, "Warm invocation latency, no-op handler"),
        ("bench-cold.png", cold, "Cold start to first response"),
    ):
        fig, ax = plt.subplots(figsize=(9, 0.5 * len(series) + 1.6))
        _box(ax, series, title)
        fig.tight_layout()
        path = IMG / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    return out
