"""Function and server configuration, validated on construction with Lambda's ranges and messages.

Why validate here and not in the HTTP layer: a template, the Python API and CreateFunction must all
reject the same values with the same words, so the rules live once, next to the data.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from keepwarm.errors import InvalidParameterValue, ValidationError

PYTHON_RUNTIMES = frozenset(f"python3.{minor}" for minor in range(9, 15))
NODE_RUNTIMES = frozenset(f"nodejs{major}.x" for major in (18, 20, 22, 24))
CUSTOM_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})
RUNTIMES = PYTHON_RUNTIMES | NODE_RUNTIMES | CUSTOM_RUNTIMES

RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

DEFAULT_REGION = "us-east-1"  # keepwarm serve's region, and the CLI's when none is configured
ENV_VARS_LIMIT = 4096
_ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9-_]{1,64}")
_HANDLER = re.compile(r"[^\s]{0,128}")
REUSE_MODES = ("always", "never")


def constraint(value: object, field_name: str, rule: str) -> ValidationError:
    """Lambda's one-line validation message; a missing value reads ``Value null``, as AWS's."""
    shown = "null" if value is None else f"'{value}'"
    return ValidationError(
        f"1 validation error detected: Value {shown} at '{field_name}' failed to satisfy "
        f"constraint: Member must {rule}"
    )


def check_range(value: int, field_name: str, low: int, high: int) -> None:
    """Raise Lambda's ValidationException text for an out-of-range integer."""
    if value < low:
        raise constraint(value, field_name, f"have value greater than or equal to {low}")
    if value > high:
        raise constraint(value, field_name, f"have value less than or equal to {high}")


def check_function_name(name: str) -> None:
    if not _FUNCTION_NAME.fullmatch(name):
        raise constraint(
            name,
            "functionName",
            "satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length less than or "
            "equal to 64",
        )


def check_runtime(runtime: str) -> None:
    from keepwarm.lambda_runtimes import check_lambda_runtime  # it reads this module's tables

    check_lambda_runtime(runtime)  # Lambda's, keepwarm does not run it: say that
    if runtime not in RUNTIMES:
        allowed = ", ".join(sorted(RUNTIMES))
        raise InvalidParameterValue(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{allowed}] or be a valid ARN"
        )


def check_handler(handler: str) -> None:
    if not handler or not _HANDLER.fullmatch(handler):
        raise constraint(
            handler, "handler", "satisfy regular expression pattern: [^\\s]+ and have length <= 128"
        )


def check_environment(variables: dict[str, str]) -> None:
    """Keys, reserved names and the 4 KB aggregate limit, in Lambda's words."""
    reserved = [key for key in variables if key in RESERVED_ENV_KEYS]
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are "
            "currently not supported for modification. Reserved keys used in this request: "
            f"{', '.join(reserved)}"
        )
    for key in variables:
        if not _ENV_KEY.fullmatch(key):
            raise constraint(
                key,
                "environment.variables",
                "satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
            )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > ENV_VARS_LIMIT:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )


def check_lifecycle(
    keep_alive_s: float | None, max_lifetime_s: float | None, max_invocations: int | None
) -> None:
    """keepwarm's own per-function knobs; Lambda has no equivalent, so the words are ours."""
    if keep_alive_s is not None and not (keep_alive_s >= 0 and math.isfinite(keep_alive_s)):
        raise InvalidParameterValue(
            f"Keep-alive must be zero or more seconds (a finite number), got {keep_alive_s}."
        )
    if max_lifetime_s is not None and not (max_lifetime_s > 0 and math.isfinite(max_lifetime_s)):
        raise InvalidParameterValue(
            f"Max lifetime must be a finite positive number of seconds, got {max_lifetime_s}."
        )
    if max_invocations is not None and (type(max_invocations) is not int or max_invocations < 1):
        raise InvalidParameterValue(
            f"max_invocations_per_env must be a whole number, at least 1, got {max_invocations!r}."
        )


def runtime_family(runtime: str) -> str:
    """'python', 'node' or 'custom'."""
    if runtime in PYTHON_RUNTIMES:
        return "python"
    if runtime in NODE_RUNTIMES:
        return "node"
    return "custom"


LOG_FORMATS = ("JSON", "Text")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
_LOG_GROUP = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")


@dataclass(frozen=True)
class LoggingConfig:
    """A function's ``LoggingConfig``. Why it matters locally: with ``LogFormat: JSON`` Lambda
    starts the runtime with ``AWS_LAMBDA_LOG_FORMAT=JSON`` and ``AWS_LAMBDA_LOG_LEVEL`` (the
    application level, ``INFO`` by default), which switch both runtimes' logging; ``LogGroup``
    is what ``AWS_LAMBDA_LOG_GROUP_NAME`` and ``context.log_group_name`` say."""

    log_format: str = "Text"
    application_log_level: str | None = None
    system_log_level: str | None = None
    log_group: str | None = None

    def __post_init__(self) -> None:
        _check_enum(self.log_format, "loggingConfig.logFormat", LOG_FORMATS)
        if self.application_log_level is not None:
            _check_enum(
                self.application_log_level,
                "loggingConfig.applicationLogLevel",
                APPLICATION_LOG_LEVELS,
            )
        if self.system_log_level is not None:
            _check_enum(self.system_log_level, "loggingConfig.systemLogLevel", SYSTEM_LOG_LEVELS)
        if self.log_group is not None and not _LOG_GROUP.fullmatch(self.log_group):
            raise constraint(
                self.log_group,
                "loggingConfig.logGroup",
                "satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
            )
        levels = self.application_log_level or self.system_log_level
        if self.log_format == "Text" and levels:
            raise InvalidParameterValue(
                "Log levels (ApplicationLogLevel, SystemLogLevel) can only be set when LogFormat "
                "is JSON."
            )

    @classmethod
    def from_shape(cls, shape: Mapping[str, object] | None) -> LoggingConfig:
        """From the API's (and a template's) ``LoggingConfig`` member."""
        shape = shape or {}
        fields = {
            "log_format": shape.get("LogFormat") or "Text",
            "application_log_level": shape.get("ApplicationLogLevel"),
            "system_log_level": shape.get("SystemLogLevel"),
            "log_group": shape.get("LogGroup"),
        }
        return cls(**{k: str(v) if v is not None else None for k, v in fields.items()})  # type: ignore[arg-type]

    def given(self) -> dict[str, str]:
        """The members set, as the API's ``LoggingConfig`` input names them."""
        members = {
            "LogFormat": self.log_format,
            "ApplicationLogLevel": self.application_log_level,
            "SystemLogLevel": self.system_log_level,
            "LogGroup": self.log_group,
        }
        return {k: v for k, v in members.items() if v is not None}

    def group(self, function_name: str) -> str:
        return self.log_group or f"/aws/lambda/{function_name}"

    def shape(self, function_name: str) -> dict[str, str]:
        out = {"LogFormat": self.log_format, "LogGroup": self.group(function_name)}
        if self.log_format == "JSON":
            out["ApplicationLogLevel"] = self.application_log_level or "INFO"
            out["SystemLogLevel"] = self.system_log_level or "INFO"
        return out

    def variables(self) -> dict[str, str]:
        """What the runtime is started with, besides ``AWS_LAMBDA_LOG_GROUP_NAME``."""
        if self.log_format != "JSON":
            return {}
        level = self.application_log_level or "INFO"
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}


def _check_enum(value: str, field_name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise constraint(value, field_name, f"satisfy enum value set: [{', '.join(allowed)}]")


@dataclass(frozen=True)
class Descriptive:
    """What Lambda reports about a function without it changing how the code runs (a template's
    Description, Role, Architectures, Layers, Tracing and Tags): GetFunction shows them, and a
    template function should read back as its deployed twin would."""

    description: str = ""
    role: str | None = None
    architectures: tuple[str, ...] = ("x86_64",)
    layers: tuple[str, ...] = ()
    tracing_mode: str = "PassThrough"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionConfig:
    """One function version's definition. Immutable: a change makes a new config (and so new
    environments), as on Lambda."""

    name: str
    handler: str
    code_dir: Path
    runtime: str = "python3.12"
    memory_mb: int = 128
    timeout_s: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    ephemeral_storage_mb: int = 512
    version: str = "$LATEST"
    keep_alive_s: float | None = None
    max_lifetime_s: float | None = None
    check_leaks: bool = False
    reuse: str = "always"
    max_invocations_per_env: int | None = None
    snapshot: bool = False
    revision: str = ""
    network: str = "default"
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    # A template's EventInvokeConfig and dead-letter target: the registry applies them.
    event_invoke: dict[str, object] | None = None
    dead_letter_target: str | None = None
    auto_publish_alias: str | None = None  # SAM's AutoPublishAlias (the registry publishes)
    descriptive: Descriptive = field(default_factory=Descriptive)
    # The content of the function's layers, in its order: merged at /opt, a later one's files
    # over an earlier one's (the registry resolves Layers ARNs to these).
    layer_dirs: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        check_function_name(self.name)
        check_runtime(self.runtime)
        if self.runtime_family != "custom":
            check_handler(self.handler)
        check_range(self.memory_mb, "memorySize", 128, 10240)
        check_range(self.timeout_s, "timeout", 1, 900)
        check_range(self.ephemeral_storage_mb, "ephemeralStorage.size", 512, 10240)
        check_environment(self.environment)
        if self.reserved_concurrency is not None:
            check_range(self.reserved_concurrency, "reservedConcurrentExecutions", 0, 1000)
        check_range(self.provisioned_concurrency, "provisionedConcurrentExecutions", 0, 1000)
        check_reuse(self.reuse)
        check_lifecycle(self.keep_alive_s, self.max_lifetime_s, self.max_invocations_per_env)
        check_network(self.network, self.runtime_family)
        if not self.code_dir.is_dir():
            raise InvalidParameterValue(f"Code directory {self.code_dir} does not exist.")
        object.__setattr__(self, "code_dir", self.code_dir.resolve())
        object.__setattr__(self, "layer_dirs", check_layer_dirs(self.layer_dirs))

    @property
    def runtime_family(self) -> str:
        return runtime_family(self.runtime)

    def with_changes(self, **changes: object) -> FunctionConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


MAX_LAYERS = 5
ACCOUNT_ID = "000000000000"  # the account keepwarm's ARNs name (a template's layers' too)


def layer_version_arn(region: str, name: str, version: int, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}:{version}"


def check_layer_dirs(dirs: tuple[Path, ...] | list[Path]) -> tuple[Path, ...]:
    """At most five layers (Lambda's limit, in its words), each an existing directory."""
    if len(dirs) > MAX_LAYERS:
        raise InvalidParameterValue("Cannot reference more than 5 layers.")
    for path in dirs:
        if not Path(path).is_dir():
            raise InvalidParameterValue(f"Layer directory {path} does not exist.")
    return tuple(Path(p).resolve() for p in dirs)


@dataclass(frozen=True)
class LayerConfig:
    """A layer version whose content is a local directory (a template's LayerVersion): the
    registry lists it like a published one and functions naming its ARN get it at /opt."""

    name: str
    content_dir: Path
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None


def check_reuse(mode: str) -> None:
    """``always``, ``never`` or ``random:P`` (reuse with probability P)."""
    if mode in REUSE_MODES:
        return
    if mode.startswith("random:"):
        try:
            p = float(mode.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if 0.0 <= p <= 1.0:
            return
    raise InvalidParameterValue(
        f"Reuse mode {mode!r} is not valid: use always, never or random:P with 0 <= P <= 1."
    )


NETWORK_MODES = ("default", "none")


def check_network(mode: str, family: str) -> None:
    """``none``: the function gets a network namespace of its own with only loopback in it.

    Only for the Python runtime on its pipe transport: the Runtime API that Node and custom
    runtimes speak is a TCP endpoint on the host's loopback, which such a namespace cannot reach.
    """
    if mode not in NETWORK_MODES:
        raise InvalidParameterValue(f"Network mode {mode!r} is not valid: use default or none.")
    if mode == "none" and family != "python":
        raise InvalidParameterValue(
            "Network mode none is supported for Python functions only (other runtimes reach "
            "the Runtime API over the host's network)."
        )


def check_run_as(value: str) -> None:
    """``sandbox`` (a uid of its own per environment), ``root``, ``nobody``, a name or UID[:GID]."""
    if value in ("sandbox", "root", "nobody") or re.fullmatch(r"\d+(:\d+)?", value):
        return
    import pwd

    try:
        pwd.getpwnam(value)
    except KeyError:
        raise InvalidParameterValue(
            f"run_as {value!r} is not valid: use sandbox, root, nobody, a user name or UID[:GID]."
        ) from None


def _spin_default() -> int:
    raw = os.environ.get("KEEPWARM_SPIN_US", "400")
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterValue(
            f"KEEPWARM_SPIN_US must be a whole number of microseconds, not {raw!r}."
        ) from None


@dataclass(frozen=True)
class ServerConfig:
    """Settings that hold for every function a server (or a ``Runtime``) runs."""

    data_dir: Path = Path(".keepwarm")
    region: str = DEFAULT_REGION
    account_id: str = ACCOUNT_ID
    concurrency_limit: int = 1000
    keep_alive_s: float = 600.0
    max_lifetime_s: float = 7200.0
    init_timeout_s: float = 10.0
    isolation: str = "auto"
    python_transport: str = field(
        default_factory=lambda: os.environ.get("KEEPWARM_PYTHON_TRANSPORT", "pipe")
    )
    check_leaks: bool = False
    reuse: str = "always"
    max_invocations_per_env: int | None = None
    launch_mode: str = "fork"
    memory_enforcement: str = "auto"
    run_as: str = "sandbox"
    spin_us: int = field(default_factory=_spin_default)
    sched_policy: str = field(
        default_factory=lambda: os.environ.get("KEEPWARM_SCHED_POLICY", "batch")
    )
    host_packages: bool = False  # Python functions may import the server's packages
    backend: str = "local"  # "ray": environments run on the machines of a Ray cluster
    ray_address: str | None = None  # None: a Ray instance of its own on this machine

    def __post_init__(self) -> None:
        # Absolute: environments chdir and bind mounts resolve paths on their own.
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())
        check_lifecycle(None, None, self.max_invocations_per_env)
        if not 0 <= self.spin_us <= 10_000:
            raise InvalidParameterValue("spin_us must be between 0 and 10000.")
        if self.memory_enforcement not in ("auto", "rss"):
            raise InvalidParameterValue("memory_enforcement must be auto or rss.")
        if self.launch_mode not in ("fork", "fresh"):
            raise InvalidParameterValue("launch_mode must be fork or fresh.")
        if self.concurrency_limit < 1:
            raise InvalidParameterValue("The concurrency limit must be at least 1.")
        if self.keep_alive_s < 0 or self.max_lifetime_s <= 0:
            raise InvalidParameterValue("Keep-alive and max lifetime must be positive.")
        if self.isolation not in ("auto", "namespace", "none"):
            raise InvalidParameterValue("isolation must be auto, namespace or none.")
        if self.sched_policy not in ("batch", "normal"):
            raise InvalidParameterValue("KEEPWARM_SCHED_POLICY must be batch or normal.")
        if self.python_transport not in ("pipe", "runtime-api"):
            raise InvalidParameterValue("KEEPWARM_PYTHON_TRANSPORT must be pipe or runtime-api.")
        if self.backend not in ("local", "ray"):
            raise InvalidParameterValue("backend must be local or ray.")
        check_reuse(self.reuse)
        check_run_as(self.run_as)

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn
