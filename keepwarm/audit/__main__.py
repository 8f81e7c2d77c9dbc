"""``python -m keepwarm.audit PATH...``: the ``keepwarm audit`` command as its own program."""

from __future__ import annotations

import typer

from keepwarm.cli.audit_cmd import register


def main() -> None:
    app = typer.Typer(add_completion=False)
    register(app)
    app(prog_name="keepwarm-audit")


if __name__ == "__main__":
    main()
