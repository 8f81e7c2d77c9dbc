"""How invocation results look in a terminal (shared by ``invoke`` and ``demo``)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from keepwarm.invocation import InvocationResult, StartKind

STYLE = {StartKind.COLD: "bold blue", StartKind.WARM: "bold green", StartKind.PROVISIONED: "cyan"}


def headline(result: InvocationResult) -> Text:
    text = Text()
    text.append(f"{result.start_kind.value:<11}", style=STYLE[result.start_kind])
    text.append(f" env {result.env_id}  {result.duration_ms:8.2f} ms  ")
    if result.init_duration_ms is not None:
        text.append(f"(init {result.init_duration_ms:.2f} ms)  ", style="blue")
    if result.function_error:
        text.append(f"error {result.error_type}", style="bold red")
    else:
        text.append("ok", style="green")
    return text


def show(console: Console, result: InvocationResult, *, logs: bool = True) -> None:
    console.print(headline(result))
    payload = result.payload.decode(errors="replace")
    console.print(Text(payload), style="red" if result.function_error else None, soft_wrap=True)
    if logs and result.logs:
        console.print(Text(result.logs.rstrip("\n")), style="dim", soft_wrap=True)
