"""Isolation between functions, and between functions and the server (design §5, issue 8).

Real environments, real processes: one function tries to reach another's /tmp, code,
variables and processes, and the server's own environment; a ``network: none`` function tries
to reach a listener on the host's loopback; every function runs as an unprivileged uid of its
own and cannot undo its sandbox. Complements tests/env/test_isolation.py (variables, private
/tmp, /var/task), which it does not repeat.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, FunctionConfig, Runtime, ServerConfig
from keepwarm.env.users import SANDBOX_BASE, SANDBOX_SPAN
from tests.helpers import function, write_code

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="sandboxing (namespaces, setuid) needs root")
TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "template.yaml"

# One handler for every probe: each "try" names an attack and returns what happened.
PROBE = """
import ctypes, errno, os, resource, signal, socket

SECRET = os.environ.get("MY_SECRET", "")

def attempt(fn):
    try:
        value = fn()
    except (OSError, ValueError) as exc:
        code = getattr(exc, "errno", None)
        return "denied:" + (errno.errorcode.get(code, "?") if code else type(exc).__name__)
    return "ok:" + (value if isinstance(value, str) else repr(value))

def read(path):
    with open(path, "rb") as fh:
        return fh.read().decode(errors="replace")

def write(path):
    with open(path, "w") as fh:
        fh.write("x")
    return "written"

def umount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(path.encode(), 2) != 0:
        raise OSError(ctypes.get_errno(), "umount")
    return "unmounted"

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        return sock.recv(16).decode()

def raise_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    return "raised"

def cgroup_escape():
    for line in read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":
            return write("/sys/fs/cgroup/memory/cgroup.procs")
    return "no cgroup"

def handler(event, context):
    if event.get("write_tmp"):
        with open("/tmp/secret", "w") as fh:
            fh.write(event["write_tmp"])
    out = {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
           "groups": os.getgroups(), "secret": SECRET}
    st = os.stat("/tmp")
    out["tmp_owner"], out["tmp_mode"] = st.st_uid, oct(st.st_mode & 0o777)
    out["nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    out["nproc"] = list(resource.getrlimit(resource.RLIMIT_NPROC))
    tries = {}
    for name, arg in event.get("try", []):
        kind = name.split(":")[0]
        fn = {"read": lambda: read(arg), "write": lambda: write(arg),
              "kill": lambda: os.kill(int(arg), signal.SIGKILL),
              "listdir": lambda: sorted(os.listdir(arg)), "umount": lambda: umount(arg),
              "connect": lambda: connect(int(arg)), "setuid": lambda: os.setuid(0),
              "raise_nofile": raise_nofile, "cgroup_escape": cgroup_escape,
              "interfaces": lambda: sorted(n for _, n in socket.if_nameindex())}[kind]
        tries[name] = attempt(fn)
    out["tries"] = tries
    return out
"""


@pytest.fixture
def host_credentials() -> Iterator[dict[str, str]]:
    """Fake AWS credentials in the server's own environment, as a developer's shell has."""
    fake = {
        "AWS_ACCESS_KEY_ID": "AKIAHOSTSECRET000001",
        "AWS_SECRET_ACCESS_KEY": "host/secret/key/never/in/functions",
        "AWS_SESSION_TOKEN": "host-session-token-never-in-functions",
        "AWS_PROFILE": "host-profile",
    }
    saved = {k: os.environ.get(k) for k in fake}
    os.environ.update(fake)
    yield fake
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _uploaded(data: Path, name: str, secret: str) -> FunctionConfig:
    """A function whose code lives in the data dir, as CreateFunction's packages do."""
    code = write_code(data / "code" / name, {"app.py": PROBE})
    return FunctionConfig(
        name=name, handler="app.handler", code_dir=code, environment={"MY_SECRET": secret}
    )


def test_payment_example_fifty_concurrent_calls_each_get_their_own_card(
    server: ServerConfig,
) -> None:
    cards = [f"4{i:015d}" for i in range(1000, 1050)]

    async def main() -> list[Any]:
        async with AsyncRuntime(template=TEMPLATE, server=server) as rt:
            events = [
                {
                    "credit_card_number": card,
                    "credit_card_expiration": "12/30",
                    "credit_card_security_code": "123",
                }
                for card in cards
            ]
            return await asyncio.gather(*(rt.invoke("Payment", e) for e in events))

    results = asyncio.run(main())
    assert [r.function_error for r in results] == [None] * 50
    assert [r.json()["card_last4"] for r in results] == [c[-4:] for c in cards]
    assert len({r.env_id for r in results}) == 50  # fifty environments, none shared


@needs_root
def test_a_function_cannot_reach_another_functions_tmp_code_variables_or_processes(
    tmp_path: Path, host_credentials: dict[str, str]
) -> None:
    data = tmp_path / "data"
    server = ServerConfig(data_dir=data)
    victim, attacker = _uploaded(data, "victim", "victim-secret"), _uploaded(data, "mallory", "m")
    with Runtime([victim, attacker], server=server) as rt:
        assert not [w for w in rt.warnings if "run as root" in w], rt.warnings
        v = rt.invoke("victim", {"write_tmp": "victim-tmp-data"}).json()
        pid = v["pid"]
        env_root = str(data / "envs")
        tries = [
            ("read:environ", f"/proc/{pid}/environ"),
            ("read:tmp-via-proc-root", f"/proc/{pid}/root/tmp/secret"),
            ("listdir:code-via-proc-root", f"/proc/{pid}/root/var/task"),
            ("read:code-via-proc-cwd", f"/proc/{pid}/cwd/app.py"),
            ("read:mem", f"/proc/{pid}/mem"),
            ("listdir:code-at-real-path", str(victim.code_dir)),
            ("listdir:env-dirs", env_root),
            ("read:server-environ", f"/proc/{os.getpid()}/environ"),
            ("read:init-environ", "/proc/1/environ"),
            ("kill:victim", str(pid)),
        ]
        m = rt.invoke("mallory", {"try": tries}).json()
        again = rt.invoke("victim").json()  # still alive, same environment, /tmp intact

    assert m["uid"] != v["uid"] and m["gid"] != v["gid"]
    for name, outcome in m["tries"].items():
        if name.startswith("listdir:") and not name.endswith("proc-root"):
            # Hidden by an empty read-only tmpfs over the data dir (or not there at all).
            assert outcome in ("ok:[]", "denied:ENOENT"), (name, outcome)
        else:
            assert outcome.startswith("denied:"), (name, outcome)
    assert "victim-secret" not in repr(m) and "victim-tmp-data" not in repr(m)
    assert again["pid"] == pid and again["secret"] == "victim-secret"
    # The server's credentials never reach a function, directly or through /proc.
    for value in host_credentials.values():
        assert value not in repr(m) and value not in repr(v)


def test_the_servers_credentials_are_not_in_a_functions_environment(
    tmp_path: Path, server: ServerConfig, host_credentials: dict[str, str]
) -> None:
    probe = "import os\n\ndef handler(e, c):\n    return dict(os.environ)\n"
    with Runtime([function(tmp_path, "env", probe)], server=server) as rt:
        env = rt.invoke("env").json()
    assert "AWS_PROFILE" not in env
    for key, value in host_credentials.items():
        assert env.get(key) != value
        assert value not in env.values()


@needs_root
def test_functions_run_as_an_unprivileged_uid_of_their_own_and_cannot_undo_the_sandbox(
    tmp_path: Path, server: ServerConfig
) -> None:
    fn = function(tmp_path, "probe", PROBE)
    tries = [
        ("setuid", ""),
        ("umount:tmp", "/tmp"),
        ("umount:task", "/var/task"),
        ("write:task", "/var/task/evil.py"),
        ("raise_nofile", ""),
        ("cgroup_escape", ""),
        ("read:shadow", "/etc/shadow"),
        ("listdir:root-home", "/root"),
    ]

    async def main() -> list[dict[str, Any]]:
        async with AsyncRuntime([fn], server=server) as rt:
            results = await asyncio.gather(*(rt.invoke("probe", {"try": tries}) for _ in range(3)))
            again = await rt.invoke("probe", {"write_tmp": "mine"})
            return [r.json() for r in results] + [again.json()]

    outs = asyncio.run(main())
    assert all("uid" in o for o in outs), outs
    uids = {o["uid"] for o in outs[:3]}
    assert len(uids) == 3  # each environment its own uid...
    for out in outs:
        assert SANDBOX_BASE <= out["uid"] < SANDBOX_BASE + SANDBOX_SPAN
        assert out["uid"] == out["euid"] == out["gid"] and out["groups"] == []
        assert out["tmp_owner"] == out["uid"] and out["tmp_mode"] == "0o700"  # ...owning /tmp
        assert out["nofile"] == [1024, 1024] and out["nproc"] == [1024, 1024]
        tried = out["tries"] if out is not outs[-1] else None
        if tried is None:
            continue
        assert tried["setuid"] == "denied:EPERM"
        assert tried["umount:tmp"] == tried["umount:task"] == "denied:EPERM"
        assert tried["write:task"] == "denied:EROFS"
        assert tried["raise_nofile"] in ("denied:ValueError", "denied:EPERM"), tried
        assert tried["cgroup_escape"] in ("denied:EACCES", "ok:'no cgroup'"), tried
        assert tried["read:shadow"] == "denied:EACCES"
        # /root is private on the host; only what the runtime needs is re-exposed in it.
        assert tried["listdir:root-home"].startswith(("denied:", "ok:[")), tried
        assert ".aws" not in tried["listdir:root-home"]
    assert outs[-1]["uid"] in uids  # a warm environment keeps its uid and its /tmp


@needs_root
def test_output_through_dev_stdout_and_children_still_reaches_the_log(
    tmp_path: Path, server: ServerConfig
) -> None:
    source = """
    import subprocess

    def handler(event, context):
        with open("/dev/stdout", "w") as fh:
            fh.write("via /dev/stdout\\n")
        subprocess.run(["sh", "-c", "echo via-shell-stderr > /dev/stderr; id -u"], check=True)
        print("plain print", flush=True)
        return "ok"
    """
    with Runtime([function(tmp_path, "out", source)], server=server) as rt:
        result = rt.invoke("out")
    assert result.json() == "ok", result.payload
    for text in ("via /dev/stdout", "via-shell-stderr", "plain print"):
        assert text in result.logs
    assert "\n0\n" not in result.logs  # `id -u` printed the sandbox uid, not root's


@needs_root
@pytest.mark.parametrize(
    ("run_as", "expected"), [("root", 0), ("nobody", 65534), ("4242:4343", 4242)]
)
def test_run_as_is_configurable(tmp_path: Path, run_as: str, expected: int) -> None:
    server = ServerConfig(data_dir=tmp_path / "data", run_as=run_as)
    with Runtime([function(tmp_path, "probe", PROBE)], server=server) as rt:
        out = rt.invoke("probe", {"write_tmp": "x"}).json()
    assert out["uid"] == expected and out["tmp_owner"] == expected


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP server on the host's 127.0.0.1 that answers every connection with 'hello'."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    sock.close()


@needs_root
def test_network_none_leaves_only_loopback_and_reaches_nothing(
    tmp_path: Path, server: ServerConfig, host_listener: int
) -> None:
    tries = [("connect", str(host_listener)), ("interfaces", "")]
    online = function(tmp_path, "online", PROBE)
    offline = function(tmp_path, "offline", PROBE, network="none")
    with Runtime([online, offline], server=server) as rt:
        on = rt.invoke("online", {"try": tries}).json()["tries"]
        off = rt.invoke("offline", {"try": tries}).json()["tries"]
    assert on["connect"] == "ok:hello"
    assert off["connect"] in ("denied:ECONNREFUSED", "denied:ENETUNREACH"), off
    assert off["interfaces"] == "ok:['lo']"
    here = sorted(name for _, name in socket.if_nameindex())
    assert on["interfaces"] == f"ok:{here!r}"  # the server's network (only lo under make test)


def test_network_none_is_refused_where_it_cannot_hold(tmp_path: Path) -> None:
    from keepwarm.errors import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="Python functions only"):
        function(tmp_path, "node", "", runtime="nodejs20.x", network="none")
    with pytest.raises(InvalidParameterValue, match="default or none"):
        function(tmp_path, "bad", "", network="host")


def test_open_files_are_limited_to_lambdas_1024(tmp_path: Path, server: ServerConfig) -> None:
    source = """
    def handler(event, context):
        held = []
        try:
            while len(held) < 5000:
                held.append(open("/dev/null"))
        except OSError as exc:
            return {"opened": len(held), "errno": exc.errno}
        return {"opened": len(held), "errno": None}
    """
    with Runtime([function(tmp_path, "fds", source)], server=server) as rt:
        out = rt.invoke("fds").json()
    assert out["errno"] == 24  # EMFILE
    assert 1000 <= out["opened"] < 1024  # 1,024 descriptors including the runtime's own


SERVER_PEEK = """
import os

def handler(event, context):
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"keepwarm.cli.main" in cmd and b"serve" in cmd:
            try:
                found[pid] = open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
            except OSError as exc:
                found[pid] = type(exc).__name__
    return {"env": dict(os.environ), "server": found}
"""


def test_a_served_function_sees_none_of_the_servers_credentials(start_server: Any) -> None:
    """Over the real HTTP API: fake AWS_* credentials in ``keepwarm serve``'s environment."""
    from kw_server import create

    fake = {
        "AWS_ACCESS_KEY_ID": "AKIAHOSTSECRET000002",
        "AWS_SECRET_ACCESS_KEY": "serve/host/secret/key",
        "AWS_SESSION_TOKEN": "serve-host-session-token",
    }
    srv = start_server(env=fake)
    lam = srv.client()
    create(lam, "peek", SERVER_PEEK)
    out = lam.invoke(FunctionName="peek")
    body = out["Payload"].read().decode()
    assert "FunctionError" not in out, body
    for value in fake.values():
        assert value not in body
    import json

    seen = json.loads(body)
    assert seen["server"], "the probe should have found the server process"
    if ROOT:  # unprivileged functions cannot read a root process's environment
        assert set(seen["server"].values()) == {"PermissionError"}


def test_network_none_from_template_metadata(tmp_path: Path) -> None:
    from keepwarm.template import load_template

    write_code(tmp_path / "src", {"app.py": "def handler(e, c):\n    return 1\n"})
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Offline:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Metadata:\n"
        "      keepwarm:\n"
        "        network: none\n"
        "    Properties:\n"
        "      CodeUri: src/\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.12\n"
    )
    (config,) = load_template(template)
    assert config.network == "none"
