"""Fixtures for the reliability suites: the real ``keepwarm serve`` helpers of tests/lambda_api.

Only ``start_server`` is taken from there: its ``server`` fixture would shadow
the suite-wide ``server`` (a ServerConfig) that the Python-API suites here use.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda_api"))

from kw_server import start_server  # noqa: F401
