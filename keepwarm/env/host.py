"""What this machine offers environments, decided once at start-up.

Why once: probing namespaces and cgroups per environment would cost every cold start; the
answer does not change while the server runs. When isolation is weaker than Lambda's (not root),
one clear warning says so at start-up, never per invocation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from keepwarm.clock import Clock, SystemClock
from keepwarm.config import FunctionConfig, ServerConfig
from keepwarm.env import owner, users
from keepwarm.env.cgroup import CgroupManager
from keepwarm.env.launcher import ForkServer
from keepwarm.env.layers import OPT
from keepwarm.env.owner import server_tag
from keepwarm.env.spares import SparePool
from keepwarm.env.spec import VAR_TASK, Placement
from keepwarm.observe.logs import HeldLines, log_root

log = logging.getLogger("keepwarm")


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


SEQUENTIAL_AFTER = 32


@dataclass
class EnvHost:
    """Shared services every environment of one server uses."""

    server: ServerConfig
    clock: Clock = field(default_factory=SystemClock)
    launcher: ForkServer = field(default_factory=ForkServer)
    cgroups: CgroupManager | None = None
    namespace: bool = False
    run_as: str | None = None  # the user functions drop to (ServerConfig.run_as); None: as is
    reveal: tuple[str, ...] = ()  # dirs the child re-exposes below private ones (env.users.Plan)
    keep: tuple[str, ...] = ()  # runtime dirs under /tmp that a private /tmp must not hide
    own_opt: bool = False  # environments get an /opt of their own (their layers)
    warnings: list[str] = field(default_factory=list)
    held_lines: HeldLines = field(default_factory=HeldLines)  # START of slower invocations
    active: int = 0  # environments in Init or an invocation now, server-wide (for spinning)
    tag: str = field(default_factory=server_tag)  # names this host's cgroups and env_root
    spares: SparePool | None = None  # processes waiting in their cgroups (with cgroups only)
    _starts: int = field(default=0, init=False, repr=False)
    _last_overlap: int = field(default=-SEQUENTIAL_AFTER, init=False, repr=False)

    def place(self, env_id: str, config: FunctionConfig) -> Placement:
        """Where a new environment lives: its own /tmp (owned by its user), the user it runs
        as, and what its mount namespace hides and reveals."""
        hide = self._hidden(config) if self.namespace else ()
        user = users.identity(self.run_as) if self.run_as else None
        closed = [d for d in (config.code_dir, *config.layer_dirs) if not users.code_dir_open(d)]
        if user is not None and closed:
            what = "code directory" if closed[0] == config.code_dir else "layer directory"
            self.warn_once(
                f"keepwarm: function {config.name} runs as root: its {what} "
                f"{closed[0]} is not readable by other users (chmod o+rx to run it "
                "unprivileged, as Lambda runs functions)"
            )
            user = None
        tmp = self.env_root / env_id / "tmp"
        own = self.run_as == "sandbox"
        tmp.mkdir(parents=True, exist_ok=True)
        if user is not None:  # /tmp belongs to the user the function runs as, and to no other
            os.chown(tmp, *user)
            os.chmod(tmp, 0o700)
        return Placement(
            env_id, tmp, self.namespace, hide, user, own, self.reveal, self.keep, self.own_opt
        )

    def _hidden(self, config: FunctionConfig) -> tuple[str, ...]:
        """The data dir at its own path and, when the code directory holds it, where the
        code's mount shows it again (``/var/task/.keepwarm``): its databases hold every
        function's environment variables, its logs every function's output."""
        data = self.data_dir.resolve()
        try:
            inside = data.relative_to(Path(config.code_dir).resolve())
        except ValueError:
            return (str(data),)
        return (str(data), str(Path(VAR_TASK) / inside))

    def note_active(self, delta: int) -> None:
        self.active += delta
        self._starts += delta > 0
        if self.active > 1:
            self._last_overlap = self._starts

    def sequential(self) -> bool:
        """True when invocations have come one at a time lately (none overlapped in the last
        ``SEQUENTIAL_AFTER``): only then may an environment spin for its next event, as that
        CPU would otherwise serve concurrent traffic."""
        return self.active == 1 and self._starts - self._last_overlap > SEQUENTIAL_AFTER

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    @property
    def env_root(self) -> Path:
        """This host's own: another server may share the data dir; a dead one's is swept."""
        return self.data_dir / "envs" / self.tag

    @property
    def log_root(self) -> Path:
        return log_root(self.data_dir)

    async def start(self) -> None:
        self.server.data_dir.mkdir(parents=True, exist_ok=True)
        if swept := owner.sweep_dirs(self.env_root.parent):
            log.info("keepwarm: removed the environment files of %d dead keepwarm servers", swept)
        self.env_root.mkdir(parents=True, exist_ok=True)
        self._decide_isolation()
        self._raise_fd_limit()
        await self.launcher.start()
        if self.cgroups is not None:
            self.spares = SparePool(self.cgroups, self.launcher)
            self.spares.fill()
        for warning in self.warnings:
            log.warning(warning)

    def _decide_isolation(self) -> None:
        mode = self.server.isolation
        if mode != "none" and _namespaces_work():
            with contextlib.suppress(OSError):
                os.makedirs(VAR_TASK, exist_ok=True)
                self.namespace = os.path.isdir(VAR_TASK)
        if self.namespace:
            from keepwarm.env import users

            self.keep = users.under_tmp()
            self._decide_opt(users.under(OPT))
        if mode == "namespace" and not self.namespace:
            raise RuntimeError("isolation=namespace needs root and mount namespaces")
        if not self.namespace:
            why = "isolation is off" if mode == "none" else "not running as root"
            self.warnings.append(
                f"keepwarm: {why}: environments share the host's /tmp (each gets a private "
                "TMPDIR instead) and see their code at its real path, not /var/task"
            )
        self._decide_user()
        if self.server.memory_enforcement == "auto":
            self.cgroups = CgroupManager.detect(self.tag)
        if self.cgroups is not None and (swept := self.cgroups.sweep()):
            log.info(
                "keepwarm: removed the cgroups of %d keepwarm servers that did not exit cleanly",
                swept,
            )
        if self.cgroups is None:
            self.warnings.append(
                "keepwarm: no writable cgroup memory controller: memory limits are enforced by "
                "watching RSS, and Max Memory Used is the runtime's own peak"
            )

    def _decide_opt(self, runtime_dirs: tuple[str, ...]) -> None:
        """/opt becomes the functions' (their layers) unless the runtime lives there."""
        if runtime_dirs:
            self.warnings.append(
                f"keepwarm: the runtime lives under /opt ({runtime_dirs[0]}): functions see the "
                "host's /opt, and their layers at their own paths (see docs/layers.md)"
            )
            return
        with contextlib.suppress(OSError):
            os.makedirs(OPT, mode=0o755, exist_ok=True)
        self.own_opt = os.path.isdir(OPT)

    def _decide_user(self) -> None:
        """Drop functions to an unprivileged user when we are root and they are namespaced.

        Without the mount namespace functions see host paths (their code, TMPDIR) whose
        permissions were never set up for another user, so isolation=none keeps them as is.
        """
        if not self.namespace or os.geteuid() != 0 or self.server.run_as == "root":
            return
        from keepwarm.env import users

        plan = users.plan()
        if plan.blocked is not None:
            self.warnings.append(
                f"keepwarm: functions run as root: {plan.blocked} is not readable by an "
                "unprivileged user (it needs o+rx)"
            )
            return
        self.run_as = self.server.run_as
        self.reveal = plan.reveal

    @staticmethod
    def _raise_fd_limit() -> None:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def warn_once(self, line: str) -> None:
        if line not in self.warnings:
            self.warnings.append(line)
            log.warning(line)

    async def close(self) -> None:
        if self.spares is not None:
            await self.spares.close()
        await self.launcher.close()
        if self.cgroups is not None:
            self.cgroups.cleanup()
        shutil.rmtree(self.env_root, ignore_errors=True)
