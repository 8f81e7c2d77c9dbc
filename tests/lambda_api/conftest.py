"""Fixtures: a real ``keepwarm serve`` subprocess and its clients (see kw_server.py)."""

from tests.lambda_api.kw_server import lam, server, start_server

__all__ = ["lam", "server", "start_server"]
