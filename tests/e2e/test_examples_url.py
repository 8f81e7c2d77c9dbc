"""The bundled examples' function URL (what ``make run`` serves): ``Visits`` answers through
its URL, counts per environment, and takes its text from the ``Pages`` layer."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

from tests.lambda_api.kw_server import Server

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def test_visits_counts_through_its_function_url(start_server: Any) -> None:
    server: Server = start_server("-t", str(EXAMPLES / "template.yaml"))
    line = re.search(r"function URL of Visits: http://(\S+)/", server.stderr())
    assert line is not None, server.stderr()
    bodies = []
    for path in ("/", "/again"):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", path, headers={"Host": line[1]})
        answer = conn.getresponse()
        assert answer.status == 200
        bodies.append(answer.read().decode())
    assert bodies == [
        "visit 1 of this environment (path /); a cold start begins at 1\n",
        "visit 2 of this environment (path /again); a cold start begins at 1\n",
    ]
