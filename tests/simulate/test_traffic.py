"""Traffic and durations: Poisson arrivals, trace files, the text forms the CLI takes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from keepwarm.errors import SimulationInputError
from keepwarm.simulate import Dist, Segment, Traffic, parse_time, poisson, read_trace


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1.5", 1.5),
        ("120ms", 0.12),
        ("90s", 90),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        (".5s", 0.5),
    ],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-1", "1x", "inf", "nan", "1e3", "ten"])
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(SimulationInputError, match="is not a time"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "dist"),
    [
        ("0.1", Dist("fixed", 0.1)),
        ("100ms", Dist("fixed", 0.1)),
        ("exp:100ms", Dist("exp", 0.1)),
        ("uniform:50ms:150ms", Dist("uniform", 0.05, 0.15)),
        ("lognormal:80ms:0.5", Dist("lognormal", 0.08, 0.5)),
    ],
)
def test_dist_parse(text: str, dist: Dist) -> None:
    parsed = Dist.parse(text)
    assert (parsed.shape, parsed.a, parsed.b) == pytest.approx((dist.shape, dist.a, dist.b))
    assert Dist.parse(parsed.text()) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exp", "is not a time"),
        ("exp:0", "must be above 0"),
        ("uniform:2:1", "LOW must not exceed HIGH"),
        ("gamma:1", "is not a duration"),
        ("uniform:1", "is not a duration"),
        ("lognormal:1:x", "'x' is not a number"),
        ("lognormal:1:-1", "finite and 0 or more"),
    ],
)
def test_dist_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(SimulationInputError, match=message):
        Dist.parse(text)


def test_dist_draws_have_their_mean() -> None:
    from random import Random

    for text, mean in (
        ("exp:0.1", 0.1),
        ("uniform:0:0.2", 0.1),
        ("lognormal:0.1:0.5", 0.1 * math.exp(0.125)),
    ):
        draw = Dist.parse(text).sampler(Random(1))
        draws = [draw() for _ in range(20_000)]
        assert sum(draws) / len(draws) == pytest.approx(mean, rel=0.05), text


@pytest.mark.parametrize(
    ("text", "rate", "length"),
    [
        ("5/s", 5, None),
        ("300/m", 5, None),
        ("36/h", 0.01, None),
        ("5", 5, None),
        ("20/s:10m", 20, 600),
        ("0/s:1h", 0, 3600),
    ],
)
def test_segment_parse(text: str, rate: float, length: float | None) -> None:
    segment = Segment.parse(text)
    assert (segment.rate, segment.length_s) == (pytest.approx(rate), length)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5/x", "is not a rate"),
        ("-1/s", "is not a rate"),
        ("5/s:0", "above 0"),
        ("5/s:ever", "is not a time"),
    ],
)
def test_segment_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(SimulationInputError, match=message):
        Segment.parse(text)


def test_poisson_is_seeded_and_has_its_rate() -> None:
    a = poisson(10.0, span_s=1000, seed=3)
    assert a == poisson(10.0, span_s=1000, seed=3) and a != poisson(10.0, span_s=1000, seed=4)
    assert abs(len(a.starts) - 10_000) < 400  # 4 standard deviations
    assert list(a.starts) == sorted(a.starts) and a.starts[0] > 0 and a.starts[-1] < 1000
    assert a.span_s == 1000 and a.durations is None


def test_a_profile_repeats_and_its_quiet_segments_stay_quiet() -> None:
    traffic = poisson([Segment(5, 60), Segment(0, 60)], span_s=600, seed=1)
    assert all(int(t // 60) % 2 == 0 for t in traffic.starts)
    assert {int(t // 120) for t in traffic.starts} == set(range(5))
    once = poisson([Segment(5, 60), Segment(0, 60)], seed=1)
    assert once.span_s == 120 and once.starts == traffic.starts[: len(once.starts)]


@pytest.mark.parametrize(
    ("profile", "span", "message"),
    [
        (5.0, None, "give how long"),
        ([Segment(5), Segment(1, 60)], 100, "each needs its length"),
        ([], 100, "give a rate"),
        (5.0, 0, "above 0"),
        (1e6, 1e6, "more than 20,000,000"),
    ],
)
def test_poisson_refuses(profile: float | list[Segment], span: float | None, message: str) -> None:
    with pytest.raises(SimulationInputError, match=message):
        poisson(profile, span)


def test_traffic_checks_its_times() -> None:
    with pytest.raises(SimulationInputError, match="ascending"):
        Traffic([1, 0])
    with pytest.raises(SimulationInputError, match="ascending"):
        Traffic([math.nan])
    with pytest.raises(SimulationInputError, match="one duration"):
        Traffic([0, 1], [0.1])
    with pytest.raises(SimulationInputError, match="finite and 0 or more"):
        Traffic([0], [-1])


@pytest.mark.parametrize(
    "content",
    [
        "2.5,0.2\n0,0.1\n1\n",
        "start,duration\n2.5,0.2\n0,0.1\n1,\n",
        "# from CloudWatch\nDuration , Start\n0.2,2.5\n\n0.1,0\n,1\n",
        '{"start": 2.5, "duration": 0.2}\n{"start": 0, "duration": 0.1, "id": "x"}\n{"start": 1}\n',
    ],
)
def test_read_trace(tmp_path: Path, content: str) -> None:
    path = tmp_path / "trace"
    path.write_text(content)
    assert read_trace(path) == Traffic([0, 1, 2.5], [0.1, None, 0.2])


def test_a_trace_without_durations(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("start\n0\n3\n")
    assert read_trace(path) == Traffic([0, 3])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no invocations"),
        ("# nothing\n", "no invocations"),
        ("0\n-1\n", "line 2: start '-1' is not a finite number"),
        ("0\nnan\n", "line 2: start 'nan'"),
        ("when,duration\n0,1\n", "line 1: 'when' is neither a start time nor a header"),
        ("0,abc\n", "line 1: duration 'abc'"),
        ('{"start": 0}\n{"start": true}\n', "line 2: start True"),
        ('{"start": 0}\n{"begin": 1}\n', 'line 2: expected an object with "start"'),
        ('{"start": 0}\n{oops\n', "line 2: not JSON"),
        ('{"start": "0"}\n', "line 1: start '0' is not a finite number"),
    ],
)
def test_read_trace_refuses(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SimulationInputError, match=message) as info:
        read_trace(path)
    assert str(path) in str(info.value)
