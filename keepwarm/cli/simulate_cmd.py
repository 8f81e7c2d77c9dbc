"""``keepwarm simulate``: how often a function's environments (and so its module-level caches)
are warm for a given traffic, predicted by replaying it through the pool's own decisions.

Why no server: the simulator runs the scheduling functions, not processes, so a day of traffic
takes seconds. A function of a SAM template gives the settings it defines (``FunctionModel.of``);
the options given win.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from keepwarm._cfn import template_file
from keepwarm.cli.parameter_overrides import (
    Entries,
    ParameterOverrides,
    TemplateCommand,
    merged,
    refuse,
)
from keepwarm.config import FunctionConfig
from keepwarm.errors import SimulationInputError, Throttled
from keepwarm.simulate import (
    Dist,
    FunctionModel,
    Prediction,
    Segment,
    Spread,
    Traffic,
    parse_time,
    poisson,
    read_trace,
    simulate,
)
from keepwarm.template import read_template

DEFAULT = FunctionModel()  # the option defaults shown in --help are the model's own


def _parsed(parse: Any) -> Any:
    """A click parser from a simulate parser: its error becomes a usage error."""

    def parser(text: str) -> Any:
        try:
            return parse(text)
        except SimulationInputError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parser


def simulate_cmd(
    function: Annotated[
        str | None,
        typer.Argument(
            metavar="FUNCTION",
            help="A function of the template (logical id or FunctionName): its settings are "
            "the defaults.",
            show_default=False,
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option(
            "-t", "--template", help="SAM template of FUNCTION.", show_default="template.yaml"
        ),
    ] = None,
    parameter_overrides: ParameterOverrides = None,
    rate: Annotated[
        list[Segment] | None,
        typer.Option(
            "--rate",
            parser=_parsed(Segment.parse),
            metavar="RATE[:LENGTH]",
            help="Poisson arrivals, e.g. 5/s, 300/m; repeat with lengths for a profile "
            "(20/s:10m --rate 1/s:50m), repeated to fill --for.",
        ),
    ] = None,
    span: Annotated[
        float | None,
        typer.Option(
            "--for",
            parser=_parsed(parse_time),
            metavar="LENGTH",
            help="How long the traffic lasts (90s, 10m, 1d).",
        ),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Start times (and durations) as CSV or JSON lines."),
    ] = None,
    duration: Annotated[
        Dist | None,
        typer.Option(
            "--duration",
            parser=_parsed(Dist.parse),
            metavar="DIST",
            show_default=DEFAULT.duration.text(),
            help="Handler duration: SECONDS, exp:MEAN, uniform:LOW:HIGH or lognormal:MEDIAN:SIGMA.",
        ),
    ] = None,
    init: Annotated[
        Dist | None,
        typer.Option(
            "--init",
            parser=_parsed(Dist.parse),
            metavar="DIST",
            show_default=DEFAULT.init.text(),
            help="Init duration of a cold start.",
        ),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout",
            show_default=str(DEFAULT.timeout_s),
            help="Function timeout in seconds (1-900).",
        ),
    ] = None,
    keep_alive: Annotated[
        float | None,
        typer.Option(
            "--keep-alive",
            parser=_parsed(parse_time),
            metavar="TIME",
            show_default=f"{DEFAULT.keep_alive_s:g}s",
            help="Idle time before reclaim.",
        ),
    ] = None,
    max_lifetime: Annotated[
        float | None,
        typer.Option(
            "--max-lifetime",
            parser=_parsed(parse_time),
            metavar="TIME",
            show_default=f"{DEFAULT.max_lifetime_s:g}s",
            help="How long an environment may live.",
        ),
    ] = None,
    reserved: Annotated[
        int | None, typer.Option("--reserved", help="Reserved concurrency.")
    ] = None,
    provisioned: Annotated[
        int | None, typer.Option("--provisioned", show_default="0", help="Provisioned concurrency.")
    ] = None,
    concurrency_limit: Annotated[
        int | None,
        typer.Option(
            "--concurrency-limit",
            show_default=str(DEFAULT.concurrency_limit),
            help="The server's concurrency limit.",
        ),
    ] = None,
    reuse: Annotated[
        str | None,
        typer.Option("--reuse", show_default="always", help="always, never or random:P."),
    ] = None,
    max_invocations: Annotated[
        int | None,
        typer.Option("--max-invocations-per-env", help="Retire an environment after N calls."),
    ] = None,
    cache_ttl: Annotated[
        list[float] | None,
        typer.Option(
            "--cache-ttl",
            parser=_parsed(parse_time),
            metavar="TIME",
            help="Also predict a cache with this TTL (repeatable).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of arrivals and durations.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Predict cold and warm starts, environments and cache hits for a traffic."""
    found = _template_function(function, template, parameter_overrides)
    traffic, source = _traffic(rate or [], span, trace, seed)
    given: dict[str, Any] = {
        "duration": duration,
        "init": init,
        "timeout_s": timeout,
        "keep_alive_s": keep_alive,
        "max_lifetime_s": max_lifetime,
        "reserved_concurrency": reserved,
        "provisioned_concurrency": provisioned,
        "concurrency_limit": concurrency_limit,
        "reuse": reuse,
        "max_invocations_per_env": max_invocations,
    }
    options = {k: v for k, v in given.items() if v is not None}
    model = FunctionModel.of(found[0], **options) if found else FunctionModel(**options)
    prediction = simulate(traffic, model, cache_ttls=cache_ttl or (), seed=seed)
    of = {"name": found[0].name, "template": str(found[1])} if found else None
    if as_json:
        head = {"traffic": source} | ({"function": of} if of else {})
        out = {**head, "model": model.describe(), **prediction.to_dict()}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _show(Console(), source, of, model, prediction)


def _template_function(
    name: str | None, template: Path | None, overrides: list[Entries] | None
) -> tuple[FunctionConfig, Path] | None:
    """The function ``name`` of the template, as ``keepwarm invoke`` finds it (a logical id or
    a FunctionName; one that cannot run is refused with its reason)."""
    if name is None:
        if template is not None:
            raise SimulationInputError(
                "give the FUNCTION of the template to simulate (its logical id or FunctionName)"
            )
        if overrides is not None:
            refuse("applies to a template's FUNCTION only")
        return None
    path = template_file(template or Path("template.yaml"))
    loaded = read_template(path, parameters=merged(overrides), keep_broken=True)
    wanted = loaded.usable(name).name_for(name)
    for config in loaded.functions:
        if config.name == wanted:
            return config, path
    names = ", ".join(sorted(c.name for c in loaded.functions))
    raise SimulationInputError(f"no function {name!r} in {path} (its functions: {names})")


def _traffic(
    rate: list[Segment], span: float | None, trace: Path | None, seed: int
) -> tuple[Traffic, dict[str, Any]]:
    if trace is not None and (rate or span is not None):
        raise SimulationInputError("give either --trace or --rate (with --for), not both")
    if trace is not None:
        return read_trace(trace), {"trace": str(trace)}
    if not rate:
        raise SimulationInputError("give the traffic: --rate RATE --for LENGTH, or --trace FILE")
    described = [{"rate_per_s": s.rate, "length_s": s.length_s} for s in rate]
    traffic = poisson(rate, span, seed)
    return traffic, {"poisson": described, "span_s": traffic.span_s, "seed": seed}


def _show(
    console: Console,
    source: dict[str, Any],
    of: dict[str, str] | None,
    model: FunctionModel,
    p: Prediction,
) -> None:
    what = f"trace {source['trace']}" if "trace" in source else f"Poisson, seed {source['seed']}"
    console.print(f"{p.invocations:,} invocations in {_time(p.span_s)} ({what})", highlight=False)
    if of is not None:
        console.print(f"function {of['name']} of {of['template']}", highlight=False, markup=False)
    console.print(_settings(model), highlight=False, style="dim", soft_wrap=True)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for row in _rows(p):
        table.add_row(*row)
    console.print(table)


def _settings(model: FunctionModel) -> str:
    """The model in one line; settings left at their defaults that change nothing are left out."""
    parts = [
        f"duration {model.duration.text()}",
        f"init {model.init.text()}",
        f"timeout {model.timeout_s}s",
        f"keep-alive {_time(model.keep_alive_s)} (reaper every {_time(model.reap_every_s)})",
        f"max lifetime {_time(model.max_lifetime_s)}",
        f"concurrency limit {model.concurrency_limit}",
    ]
    if model.reserved_concurrency is not None:
        parts.append(f"reserved {model.reserved_concurrency}")
    if model.provisioned_concurrency:
        parts.append(f"provisioned {model.provisioned_concurrency}")
    if model.reuse != "always":
        parts.append(f"reuse {model.reuse}")
    if model.max_invocations_per_env is not None:
        parts.append(f"max {model.max_invocations_per_env} invocations per environment")
    return ", ".join(parts)


def _rows(p: Prediction) -> list[tuple[str, str, str]]:
    served = p.served or 1
    spread = p.per_environment
    throttles = ", ".join(f"{SHORT.get(r, r)} {n:,}" for r, n in p.throttled.items())
    rows = [
        ("invocations", f"{p.invocations:,}", ""),
        ("cold starts", f"{p.cold:,}", _pct(p.cold / served)),
        ("warm starts", f"{p.warm:,}", _pct(p.warm / served)),
        ("provisioned starts", f"{p.provisioned:,}", _pct(p.provisioned / served)),
        ("warm ratio", _pct(p.warm_ratio), "(warm + provisioned) / served"),
        ("throttled", f"{sum(p.throttled.values()):,}", throttles),
        ("timeouts", f"{p.timeouts:,}", ""),
        ("environments created", f"{p.environments:,}", ""),
        ("peak environments", f"{p.peak_environments:,}", "alive at once"),
        ("peak concurrency", f"{p.peak_concurrency:,}", "invocations at once"),
        ("environment time", _time(p.env_seconds), _busy(p)),
        ("invocations per environment", f"{spread.mean:,.1f}", "mean"),
        *((f"  {name}", f"{value:,}", "") for name, value in _ranks(spread)),
    ]
    for cache in p.caches:
        ttl = "no TTL" if cache.ttl_s is None else f"TTL {_time(cache.ttl_s)}"
        rows.append((f"cache hit ratio ({ttl})", _pct(cache.hit_ratio), f"{cache.misses:,} misses"))
    return rows


SHORT = {Throttled.RESERVED: "reserved", Throttled.ACCOUNT: "account limit"}


def _ranks(spread: Spread) -> list[tuple[str, int]]:
    return [("p50", spread.p50), ("p90", spread.p90), ("p99", spread.p99), ("max", spread.max)]


def _busy(p: Prediction) -> str:
    return f"{_pct(p.busy_seconds / p.env_seconds)} busy" if p.env_seconds else ""


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.2f} %"


def _time(s: float) -> str:
    """In the largest unit that leaves at least 2 of it (90s, 10m, 24h, 7d)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= 2 * size:
            return f"{s / size:.4g}{unit}"
    return f"{s:.4g}s"


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate", cls=TemplateCommand)(simulate_cmd)
