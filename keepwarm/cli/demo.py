"""``keepwarm demo``: a two-minute tour of environment reuse on the bundled examples.

It shows, with real environments: a global surviving between warm invocations, a module-level
cache hit, two concurrent calls landing in two environments, and a cold start after idle reclaim.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from keepwarm.api import AsyncRuntime
from keepwarm.config import ServerConfig
from keepwarm.template import load_template

from .render import headline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "template.yaml"
CARDS = [("4111111111111111", "12/30", "123"), ("5500000000000004", "01/29", "456")]


async def _show(console: Console, rt: AsyncRuntime, name: str, event: object) -> None:
    result = await rt.invoke(name, event)
    console.print(headline(result), result.payload.decode())


async def tour(console: Console, template: Path, keep_alive: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="keepwarm-demo-"))
    server = ServerConfig(data_dir=data_dir, keep_alive_s=keep_alive)
    async with AsyncRuntime(load_template(template), server=server) as rt:
        for line in rt.warnings:
            console.print(f"[yellow]{line}[/]")
        console.print(Rule("1. A global survives between warm invocations"))
        for _ in range(3):
            await _show(console, rt, "Greeting", {})
        console.print(Rule("2. A module-level cache: slow miss, then a warm hit"))
        for _ in range(2):
            await _show(console, rt, "Cache", {"item": "book"})
        console.print(Rule("3. Two concurrent calls: two environments, each its own card"))
        events = [
            {"credit_card_number": n, "credit_card_expiration": e, "credit_card_security_code": c}
            for n, e, c in CARDS
        ]
        results = await asyncio.gather(*(rt.invoke("Payment", ev) for ev in events))
        for result in results:
            console.print(headline(result), result.payload.decode())
        console.print(
            Rule(f"4. Idle for longer than the keep-alive ({keep_alive:g} s): cold again")
        )
        await asyncio.sleep(keep_alive * 2 + 0.5)
        await _show(console, rt, "Greeting", {})
    console.print(f"\nLog streams (one per environment) are under [bold]{data_dir}/logs[/]")


def run_demo(template: Path = EXAMPLES, keep_alive: float = 1.0) -> None:
    asyncio.run(tour(Console(), template, keep_alive))
