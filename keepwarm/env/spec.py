"""What an environment's process is given: its variables (Lambda's, exactly) and its launch spec.

Why a module of its own: these are the facts of contract §3.1 in one place, and the launch spec
is the whole interface between the server and a child (nothing else crosses, in particular not
the server's own environment variables).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env import layers

VAR_TASK = "/var/task"
RUNTIME_DIR = "/var/runtime"
XRAY_HOST = "169.254.79.129"
OPT_BOOTSTRAP = f"{layers.OPT}/bootstrap"
MAX_PROCESSES = 1024  # Lambda's per-environment limit on processes (and on open files)
NODE_BOOTSTRAP = Path(__file__).resolve().parent.parent / "runtimes" / "node" / "bootstrap.js"


@dataclass(frozen=True)
class Placement:
    """Where one environment lives on this machine."""

    env_id: str
    tmp_dir: Path
    namespace: bool
    hide: tuple[str, ...] = ()
    user: tuple[int, int] | None = None  # (uid, gid) to drop to; None: stay as the server is
    own_user: bool = False  # the uid is this environment's alone (see keepwarm.env.users)
    reveal: tuple[str, ...] = ()  # dirs to re-expose below private ones before the drop
    keep: tuple[str, ...] = ()  # runtime dirs under /tmp, bound back over the private /tmp
    own_opt: bool = False  # /opt is the function's: its layers, merged (see env.layers)

    def task_root(self, config: FunctionConfig) -> str:
        return VAR_TASK if self.namespace else str(config.code_dir)

    def layers(self, config: FunctionConfig) -> layers.LayerView:
        return layers.view(config, self.own_opt)


def lambda_variables(
    config: FunctionConfig,
    server: ServerConfig,
    placement: Placement,
    stream_name: str,
    runtime_api: str,
    provisioned: bool,
) -> dict[str, str]:
    """The environment variables of contract §3.1, then the function's own."""
    task_root = placement.task_root(config)
    bindir = os.path.dirname(sys.executable)
    opt = placement.layers(config)
    opt_bin, opt_lib = "/opt/bin", "/opt/lib"
    if not opt.mounted and config.layer_dirs:
        opt_bin, opt_lib = opt.subdirs("bin"), opt.subdirs("lib")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": config.logging.group(config.name),
        "AWS_LAMBDA_LOG_STREAM_NAME": stream_name,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency" if provisioned else "on-demand",
        "AWS_REGION": server.region,
        "AWS_DEFAULT_REGION": server.region,
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "LC_CTYPE": "C.UTF-8",
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin/:/bin:{opt_bin}",
        "LD_LIBRARY_PATH": f"/var/lang/lib:/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:"
        f"{task_root}:{task_root}/lib:{opt_lib}",
        "PYTHONPATH": RUNTIME_DIR,
        "PWD": task_root,
        "SHLVL": "0",
        "AWS_ACCESS_KEY_ID": "keepwarm-local",
        "AWS_SECRET_ACCESS_KEY": "keepwarm-local",
        "AWS_SESSION_TOKEN": "keepwarm-local",
        "AWS_XRAY_DAEMON_ADDRESS": f"{XRAY_HOST}:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": XRAY_HOST,
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    if config.runtime_family != "custom":
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{config.runtime}"
    if config.runtime_family == "node":
        major = config.runtime.removeprefix("nodejs").split(".")[0]
        own = [f"/opt/nodejs/node{major}/node_modules", "/opt/nodejs/node_modules"]
        if not opt.mounted and config.layer_dirs:
            own = opt.node_paths(config.runtime)
        env["NODE_PATH"] = ":".join([*own, f"{RUNTIME_DIR}/node_modules", RUNTIME_DIR, task_root])
    if not placement.namespace:
        env["TMPDIR"] = str(placement.tmp_dir)
    env.update(config.logging.variables())
    env.update(config.environment)
    return env


def launch_spec(
    config: FunctionConfig,
    placement: Placement,
    env: dict[str, str],
    mode: str,
    argv: list[str] | None = None,
    cgroup_procs: list[str] | None = None,
    options: dict[str, Any] | None = None,
    sched: str = "normal",
) -> dict[str, Any]:
    """The JSON the fork server hands to a new environment process (see env.child)."""
    task_root = placement.task_root(config)
    binds: list[list[Any]] = []
    if placement.namespace:
        binds = [[str(config.code_dir), VAR_TASK, True], [str(placement.tmp_dir), "/tmp", False]]
    spec: dict[str, Any] = {
        "mode": mode,
        "env": env,
        "cwd": task_root,
        "task_root": task_root,
        "namespace": placement.namespace,
        "binds": binds,
        "hide": list(placement.hide),
        "keep": list(placement.keep),
        "cgroup_procs": cgroup_procs or [],
        # No core files: a crash reports at once instead of after writing one (into the code
        # directory, with the default core_pattern); on Lambda /var/task is read-only anyway.
        "rlimits": {"RLIMIT_NOFILE": 1024, "RLIMIT_CORE": 0},
        "argv": argv or [],
        "options": dict(options or {}),
        "sched": sched,
    }
    if placement.own_opt:
        spec["opt"] = [str(d) for d in config.layer_dirs]
    if config.runtime_family == "python":
        spec["options"]["layer_paths"] = placement.layers(config).python_paths(config.runtime)
    if placement.user is not None:
        spec["user"] = list(placement.user)
        spec["reveal"] = list(placement.reveal)
        if placement.own_user:  # a per-uid count: a real per-environment limit only then
            spec["rlimits"]["RLIMIT_NPROC"] = MAX_PROCESSES
    if config.network == "none":
        spec["network"] = "none"
    if config.snapshot and mode == "fork" and config.runtime_family == "python":
        key = snapshot_key(config)
        spec["snapshot"] = key
        spec["snapshot_tmp"] = str(placement.tmp_dir.parent.parent / f"snapshot-{key}" / "tmp")
    return spec


def snapshot_key(config: FunctionConfig) -> str:
    """Which template serves a snapshot function: a new one whenever code or settings change."""
    facts = [
        config.name,
        config.version,
        config.revision,
        str(config.code_dir),
        [str(d) for d in config.layer_dirs],
        config.handler,
        config.runtime,
        sorted(config.environment.items()),
    ]
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:16]


def exec_argv(config: FunctionConfig, placement: Placement) -> list[str] | None:
    """What a Node or custom runtime's process execs (after isolation set-up); None for Python.

    Node: the machine's ``node`` running keepwarm's bootstrap, old space capped at 90% of the
    function's memory as Lambda's own Node bootstrap does. Custom: ``bootstrap`` in the code
    directory, else ``/opt/bootstrap`` from a layer (contract §2.6); a missing one fails the
    exec (exit 127).
    """
    family = config.runtime_family
    if family == "node":
        node = shutil.which("node") or "/usr/bin/node"
        heap = config.memory_mb * 9 // 10
        return [node, f"--max-old-space-size={heap}", str(NODE_BOOTSTRAP)]
    if family == "custom":
        layered = layers.bootstrap(config, placement.own_opt)
        if not (config.code_dir / "bootstrap").exists() and layered is not None:
            return [layered[1]]
        return [f"{placement.task_root(config)}/bootstrap"]
    return None


def entrypoint_problem(config: FunctionConfig, placement: Placement) -> str | None:
    """Why Lambda could not start a custom runtime's ``bootstrap`` (``Runtime.InvalidEntrypoint``),
    in its words; None when it can. Checked before the process starts, because a failed exec
    and a bootstrap that exits 127 on its own look the same from outside."""
    if config.runtime_family != "custom":
        return None
    local = config.code_dir / "bootstrap"
    shown = f"{placement.task_root(config)}/bootstrap"
    if not local.exists():
        layered = layers.bootstrap(config, placement.own_opt)
        if layered is None:
            return f"Couldn't find valid bootstrap(s): [{shown} {OPT_BOOTSTRAP}]"
        local, shown = layered
    if local.is_dir() or not os.access(local, os.X_OK):
        return f"fork/exec {shown}: permission denied"
    try:
        with local.open("rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].split()
        if words and not os.path.exists(words[0].decode(errors="replace")):
            return f"fork/exec {shown}: no such file or directory"
    elif not _runs_here(head):
        return f"fork/exec {shown}: exec format error"
    return None


_ELF_MACHINES = {"x86_64": 62, "aarch64": 183}


def _runs_here(head: bytes) -> bool:
    """An ELF executable for this machine's architecture (anything else without ``#!``, a
    script or a binary built for arm64 on x86_64, fails to exec)."""
    if not head.startswith(b"\x7fELF") or len(head) < 20:
        return False
    wanted = _ELF_MACHINES.get(platform.machine())
    return wanted is None or int.from_bytes(head[18:20], "little") == wanted
