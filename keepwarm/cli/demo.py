"""``keepwarm demo``: a two-minute tour of environment reuse on the bundled examples.

It shows, with real environments: a global surviving between warm invocations, a module-level
cache hit, two concurrent calls landing in two environments, and a cold start after idle reclaim.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from keepwarm.api import AsyncRuntime
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.errors import TemplateError
from keepwarm.invocation import InvocationResult
from keepwarm.template import read_template

from .render import headline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "template.yaml"
CARDS = [("4111111111111111", "12/30", "123"), ("5500000000000004", "01/29", "456")]
NEEDED = ("Greeting", "Cache", "Payment")


def _print(console: Console, result: InvocationResult) -> None:
    """The payload is the function's text, never Rich markup: ``[/x]`` in it must print as is."""
    console.print(headline(result), Text(result.payload.decode(errors="replace")))


async def _show(console: Console, rt: AsyncRuntime, name: str, event: object) -> None:
    _print(console, await rt.invoke(name, event))


def demo_functions(
    template: Path, parameters: dict[str, str] | None = None
) -> list[FunctionConfig]:
    """Checked before any directory or environment exists, so a wrong template leaves nothing."""
    loaded = read_template(template, parameters=parameters, keep_broken=True)
    defined = {f.name for f in loaded.functions} | {b.name for b in loaded.broken}
    missing = [name for name in NEEDED if name not in defined]
    if missing:
        raise TemplateError(
            f"The demo runs the example functions {', '.join(NEEDED)}; "
            f"{template} has no {', '.join(missing)}."
        )
    return loaded.usable(*NEEDED).functions


async def _reuse_and_cache(console: Console, rt: AsyncRuntime) -> None:
    console.print(Rule("1. A global survives between warm invocations"))
    for _ in range(3):
        await _show(console, rt, "Greeting", {})
    console.print(Rule("2. A module-level cache: slow miss, then a warm hit"))
    for _ in range(2):
        await _show(console, rt, "Cache", {"item": "book"})


async def _concurrency_and_reclaim(console: Console, rt: AsyncRuntime, keep_alive: float) -> None:
    console.print(Rule("3. Two concurrent calls: two environments, each its own card"))
    events = [
        {"credit_card_number": n, "credit_card_expiration": e, "credit_card_security_code": c}
        for n, e, c in CARDS
    ]
    for result in await asyncio.gather(*(rt.invoke("Payment", ev) for ev in events)):
        _print(console, result)
    console.print(Rule(f"4. Idle for longer than the keep-alive ({keep_alive:g} s): cold again"))
    await asyncio.sleep(keep_alive * 2 + 0.5)
    await _show(console, rt, "Greeting", {})


async def _steps(console: Console, functions: list[FunctionConfig], server: ServerConfig) -> None:
    async with AsyncRuntime(functions, server=server) as rt:
        for line in rt.warnings:
            console.print(Text(line, style="yellow"))
        await _reuse_and_cache(console, rt)
        await _concurrency_and_reclaim(console, rt, server.keep_alive_s)


async def tour(
    console: Console, template: Path, keep_alive: float, parameters: dict[str, str] | None = None
) -> None:
    functions = demo_functions(template, parameters)
    server = ServerConfig(keep_alive_s=keep_alive)  # refuses a bad value before mkdtemp
    data_dir = Path(tempfile.mkdtemp(prefix="keepwarm-demo-"))
    try:
        await _steps(console, functions, dataclasses.replace(server, data_dir=data_dir))
    except BaseException:
        # Nobody is told where a failed tour's directory is, so nobody would ever remove it.
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    where = (f"{data_dir}/logs", "bold")
    console.print(Text.assemble("\nLog streams (one per environment) are under ", where))


def run_demo(
    template: Path = EXAMPLES, keep_alive: float = 1.0, parameters: dict[str, str] | None = None
) -> None:
    asyncio.run(tour(Console(), template, keep_alive, parameters))
