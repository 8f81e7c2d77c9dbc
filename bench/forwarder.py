"""The architecture's floor for ``keepwarm serve``: the least an HTTP server can do per invocation
when the function runs in another process.

An ASGI app on the same uvicorn + httptools stack as the echo floor forwards each request to one
of a few real keepwarm Python runtime processes over a socket pair and returns the answer:
no placement policy, limits, timeouts, log streams, metrics or request validation. Why measure
it: the HTTP targets compare keepwarm with a bare echo, which does no inter-process work at all;
this floor tells what the two-process design itself costs on the machine (two more wake-ups and
a runtime's loop per request) apart from what keepwarm's own code adds.

Run as ``python -m bench.forwarder PORT CODE_DIR``; the handler is ``app.handler`` there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

from keepwarm.runtimes.python import wire

ENVIRONMENTS = 6  # more than the benchmark's concurrency: a request never waits for one
ARN = "arn:aws:lambda:us-east-1:000000000000:function:noop"
_RUNTIME = """
import sys
from keepwarm.runtimes.python import bootstrap, transport
sys.path.insert(0, sys.argv[2])
bootstrap.main(transport.PipeTransport(int(sys.argv[1])), {})
"""
_LAMBDA_VARIABLES = {
    "_HANDLER": "app.handler",
    "AWS_LAMBDA_FUNCTION_NAME": "noop",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/noop",
    "AWS_LAMBDA_LOG_STREAM_NAME": "floor",
}


class Runtime:
    """One runtime process and its socket; resolves ``answer`` when the runtime says next."""

    def __init__(self, loop: asyncio.AbstractEventLoop, code: str) -> None:
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-c", _RUNTIME, str(theirs.fileno()), code]
        env = {**os.environ, **_LAMBDA_VARIABLES}
        self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env, cwd=code)
        theirs.close()
        ours.setblocking(False)
        self.sock, self.frames, self.body = ours, wire.FrameBuffer(), b""
        self.answer: asyncio.Future[bytes] = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)

    def _readable(self) -> None:
        data = self.sock.recv(wire.READ_SIZE)
        for meta, body in self.frames.feed(data):
            if meta["t"] in ("response", "error"):
                self.body = body
            if (meta["t"] == "next" or "next" in meta) and not self.answer.done():
                self.answer.set_result(self.body)

    async def invoke(self, number: int, payload: bytes) -> bytes:
        self.answer = asyncio.get_running_loop().create_future()
        meta = {"t": "invoke", "id": str(number), "deadline": 1 << 42, "arn": ARN}
        self.sock.send(wire.encode(meta, payload))
        return await self.answer

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()  # the runtime reads end-of-file and exits
        self.proc.wait(timeout=10)


class Forwarder:
    def __init__(self, code: str) -> None:
        self.code = code
        self.idle: list[Runtime] = []
        self.count = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = (await receive()).get("body", b"")
        runtime = self.idle.pop()
        self.count += 1
        try:
            out = await runtime.invoke(self.count, body)
        finally:
            self.idle.append(runtime)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(out))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        loop = asyncio.get_running_loop()
        await receive()
        runtimes = [Runtime(loop, self.code) for _ in range(ENVIRONMENTS)]
        await asyncio.gather(*(r.answer for r in runtimes))  # each said its first next
        self.idle.extend(runtimes)
        await send({"type": "lifespan.startup.complete"})
        await receive()
        for runtime in runtimes:
            runtime.close()
        await send({"type": "lifespan.shutdown.complete"})


if __name__ == "__main__":
    import uvicorn

    port, code = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(Forwarder(code), host="127.0.0.1", port=port, http="httptools", log_level="warning")
