"""Fixtures: a real ``keepwarm serve`` subprocess and its clients (see kw_server.py).

Named ``serve_proc``/``serve_lam`` here so the suite-wide ``server`` fixture keeps its meaning
for the other end-to-end tests in this directory.
"""

from tests.lambda_api.kw_server import serve_lam, serve_proc, start_server

__all__ = ["serve_lam", "serve_proc", "start_server"]
