"""Running the app on uvicorn: bind checks, a pre-bound socket, graceful shutdown.

Why pre-bind: ``--port 0`` must be able to tell the caller the port it got, and binding before
uvicorn starts also makes "address in use" a clear error instead of a traceback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from keepwarm.config import DEFAULT_REGION
from keepwarm.env import sched
from keepwarm.lambda_api.app import create_app
from keepwarm.lambda_api.backend import ServeOptions
from keepwarm.lambda_api.browser_guard import BrowserGuard
from keepwarm.lambda_api.data_lock import DataDirLock
from keepwarm.lambda_api.endpoint import connectable, endpoint, is_wildcard, url_host
from keepwarm.lambda_api.url_config import template_url_lines
from keepwarm.lambda_api.url_server import FunctionUrls
from keepwarm.registry.model import FAILED


class BindRefused(Exception):
    """Listening beyond loopback without authentication."""


class StartupRefused(Exception):
    """The backend could not start for a reason one line says (no Ray cluster at the address):
    said instead of uvicorn's traceback and "Application startup failed"."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, insecure: bool, auth: str = "none") -> None:
    if is_loopback(host) or insecure or auth != "none":
        return
    raise BindRefused(
        f"keepwarm: refusing to listen on {host}: anyone who can reach it could run code here. "
        "Listen on 127.0.0.1, require signed requests with --auth sigv4 --credentials FILE, "
        "or pass --insecure to accept unauthenticated requests from the network."
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


class _Server(uvicorn.Server):
    """Marks the backend as shutting down first, so cancelled invocations say why; and exits 0
    after a graceful SIGTERM/SIGINT instead of re-raising the signal (a clean stop is success)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()

    def __init__(self, config: uvicorn.Config, api: Any) -> None:
        super().__init__(config)
        self.api = api  # the API app itself, under any middleware (signatures, browser guard)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        backend = getattr(getattr(self.api, "state", None), "backend", None)
        if backend is not None:
            backend.shutting_down = True
        await super().shutdown(sockets)


def _verifier(options: ServeOptions) -> Any:
    """The SigV4 verifier for ``--auth sigv4`` (None without auth); fails before binding."""
    if options.auth == "none":
        return None
    from keepwarm.lambda_api.auth import Verifier, load_credentials

    if options.auth != "sigv4" or options.credentials is None:
        raise BindRefused("keepwarm: --auth must be none or sigv4, and sigv4 needs --credentials")
    try:
        keys, tokens = load_credentials(options.credentials)
    except ValueError as exc:
        raise BindRefused(f"keepwarm: {exc}") from None
    return Verifier(keys, region=options.server_config().region, tokens=tokens)


def _protocol() -> Any:
    """httptools with header size and time bounds (see _http), or plain httptools."""
    try:
        from keepwarm.lambda_api._http import BoundedHttpToolsProtocol
    except ImportError:  # a uvicorn without that module layout: its own protocol, unbounded
        return "httptools"
    return BoundedHttpToolsProtocol


def try_it(
    endpoint: str,
    names: list[str],
    profile: tuple[Path, str] | None = None,
    data_dir: Path = Path(".keepwarm"),
) -> str:
    """What to paste next: the served functions, the exact client lines to call one, and the
    line that follows its log streams (from any directory: the data dir is absolute).

    ``profile``: under ``--auth sigv4``, the credentials file and a section of it; the lines
    then sign with that section's key (named, never printed), as any credentials would not do.
    Every value is quoted for the shell, whatever the section or file is called.
    """
    name = "Greeting" if "Greeting" in names else names[0]
    aws = _sibling("aws")
    if profile is None:
        how, env, flag = "any credentials", "AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x ", ""
        client = "boto3.client("
    else:
        path, section = profile
        how = f"signed with the key of [{section}] in {path}"
        env = f"AWS_SHARED_CREDENTIALS_FILE={shlex.quote(str(path.resolve()))} "
        flag = f"--profile {shlex.quote(section)} "
        client = f"boto3.Session(profile_name={json.dumps(section)}).client("
    code = (
        f'import boto3; c = {client}"lambda", endpoint_url={json.dumps(endpoint)}, '
        f'region_name="{DEFAULT_REGION}"); '
        f'print(c.invoke(FunctionName={json.dumps(name)})["Payload"].read())'
    )
    return (
        f"keepwarm: serving {len(names)} functions: {', '.join(names)}\n"
        f"Try it (AWS CLI / boto3, {how}):\n"
        f"  {env}{shlex.quote(str(aws))} lambda invoke {flag}--region {DEFAULT_REGION} "
        f"--endpoint-url {endpoint} --function-name {shlex.quote(name)} --log-type Tail "
        "out.json && cat out.json\n"
        f"  {env}{shlex.quote(sys.executable)} -c {shlex.quote(code)}\n"
        "  Call twice: the first answer comes from a cold environment, the next from a warm one.\n"
        f"  Follow its logs: {shlex.quote(str(_sibling('keepwarm')))} logs {shlex.quote(name)} "
        f"--data-dir {shlex.quote(str(data_dir.resolve()))} -f\n"
    )


def _sibling(command: str) -> Path:
    """``command`` from this interpreter's bin directory (a venv's), else from PATH."""
    here = Path(sys.executable).parent / command
    return here if here.exists() else Path(command)


def serve(options: ServeOptions, log_level: str = "warning") -> None:
    check_bind(options.host, options.insecure, options.auth)
    sched.apply(options.server_config().sched_policy)  # before any thread or child starts
    verifier = _verifier(options)
    lock = DataDirLock(options.data_dir)
    lock.acquire()
    try:
        _serve(options, verifier, log_level)
    finally:
        lock.release()


def _profile(options: ServeOptions) -> tuple[Path, str] | None:
    """The credentials file and its first usable section, under ``--auth sigv4``."""
    if options.auth != "sigv4" or options.credentials is None:
        return None
    from keepwarm.lambda_api.auth import first_profile

    section = first_profile(options.credentials)
    return None if section is None else (options.credentials, section)


def _serve(options: ServeOptions, verifier: Any, log_level: str) -> None:
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    options = ServeOptions(**{**vars(options), "port": port})
    url = endpoint(options.host, port)

    def ready() -> None:
        print(f"keepwarm: listening on {url}", flush=True)
        if is_wildcard(options.host):
            here = url_host(connectable(options.host))
            sys.stderr.write(
                f"keepwarm: listening on every address (--host {options.host}): from another "
                f"machine, use this machine's name or address instead of {here}\n"
            )
        cluster = inner.state.backend.runtime.cluster
        if cluster is not None:
            sys.stderr.write(f"keepwarm: environments run on {cluster.describe()}\n")
        records = inner.state.backend.service.records if options.template else {}
        names = sorted(n for n, r in records.items() if r.state != FAILED)
        if names:
            sys.stderr.write(try_it(url, names, _profile(options), options.data_dir))
        sys.stderr.write(template_url_lines(inner.state.backend.service))
        sys.stderr.flush()

    inner: Any = create_app(options, on_ready=ready)
    app: Any = inner  # what uvicorn serves: the API, or the API behind signature checks
    if verifier is not None:
        from keepwarm.lambda_api.auth import SigV4Middleware

        app = SigV4Middleware(inner, verifier)
    else:
        app = BrowserGuard(inner, check_host=not options.insecure)
    app = FunctionUrls(app, inner, verifier)  # a URL has its own auth and CORS: served first
    config = uvicorn.Config(
        app,
        lifespan="on",
        http=_protocol(),
        loop=_loop(),
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=int(options.shutdown_timeout_s),
        server_header=False,
        proxy_headers=False,
    )
    notices = _UvicornNotices(inner, options.shutdown_timeout_s)
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addFilter(notices)
    try:
        _Server(config, inner).run(sockets=[sock])
    except SystemExit:  # uvicorn's exit after a failed startup
        if notices.refused():
            raise StartupRefused(f"keepwarm: {notices.refused()}") from None
        raise
    finally:
        uvicorn_log.removeFilter(notices)


class _UvicornNotices(logging.Filter):
    """Two of uvicorn's reports said as keepwarm says things: a startup the backend refused
    (one line after the run instead of a traceback), and "Cancel N running task(s), timeout
    graceful shutdown exceeded", with what it means for the callers."""

    def __init__(self, inner: Any, timeout_s: float) -> None:
        super().__init__()
        self.inner = inner
        self.timeout_s = timeout_s

    def refused(self) -> str | None:
        """What the lifespan refused to start for, if anything (``app.state.refused``)."""
        return getattr(self.inner.state, "refused", None)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.refused() is not None:
            return False
        if not str(record.msg).startswith("Cancel %s running task"):
            return True
        n = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        sys.stderr.write(
            f"keepwarm: {n} request(s) still running after --shutdown-timeout "
            f"{self.timeout_s:g} s were cancelled; their callers got ServiceException\n"
        )
        return False
