"""Warnings from orc, with ``logging`` imported only when there is something to say.

orc is imported during a cold start, where every millisecond is billed and visible; the
happy path never logs, so it should not pay for importing the logging package.
"""

from __future__ import annotations


def warn(message: str, *args: object) -> None:
    import logging

    logging.getLogger("keepwarm.orc").warning(message, *args)


def info(message: str, *args: object) -> None:
    import logging

    logging.getLogger("keepwarm.orc").info(message, *args)
