"""Fixtures: a real ``keepwarm serve`` subprocess (see tests/lambda_api/kw_server.py)."""

from tests.lambda_api.kw_server import start_server

__all__ = ["start_server"]
