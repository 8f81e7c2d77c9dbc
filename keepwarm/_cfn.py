"""CloudFormation YAML and the intrinsic functions keepwarm can evaluate on one machine.

Why a separate module: templates are full of ``!Ref``, ``!Sub`` and ``!GetAtt`` written for a real
stack. A local run must load all of them, evaluate what depends only on the template (parameters,
pseudo parameters, mappings, simple conditions) and leave a readable placeholder for the rest
(``${Table.Arn}``), so that one unresolvable attribute never blocks running the code.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from keepwarm.config import layer_version_arn
from keepwarm.errors import TemplateError

NodePath = tuple[str | int, ...]
TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


class _NoValue:
    """``AWS::NoValue``: the property it sits in is removed, as CloudFormation does."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns every short-form ``!Tag`` into its long form dict."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> Any:
    """Parse a CloudFormation/SAM document (YAML or JSON); raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=CfnLoader)


def template_file(path: Path) -> Path:
    """The template at ``path``, or SAM's default name inside it when ``path`` is a directory."""
    if path.is_dir():
        for name in TEMPLATE_NAMES:
            if (path / name).is_file():
                return path / name
        raise TemplateError(f"No template.yaml found in {path}.")
    if not path.is_file():
        raise TemplateError(f"Template not found: {path}")
    return path


def read_document(file: Path) -> dict[str, Any]:
    """The parsed template, or a one-line ``TemplateError`` saying what is wrong with it."""
    try:
        document = load_yaml(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"Cannot read template {file}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"Template {file} is not valid YAML: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise TemplateError(f"Template {file} is nested too deeply to read.") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"Template {file} must be a mapping with a Resources section.")
    return document


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def pseudo_parameters(region: str) -> dict[str, Any]:
    """The pseudo parameters of a stack named ``keepwarm`` in a local, fake account."""
    partition, suffix = "aws", "amazonaws.com"
    if region.startswith("cn-"):
        partition, suffix = "aws-cn", "amazonaws.com.cn"
    elif region.startswith("us-gov-"):
        partition = "aws-us-gov"
    stack_id = (
        f"arn:{partition}:cloudformation:{region}:000000000000:stack/keepwarm/"
        "00000000-0000-0000-0000-000000000000"
    )
    return {
        "AWS::Region": region,
        "AWS::AccountId": "000000000000",
        "AWS::StackName": "keepwarm",
        "AWS::StackId": stack_id,
        "AWS::Partition": partition,
        "AWS::URLSuffix": suffix,
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


@dataclass(frozen=True)
class Unresolved:
    """One expression that only a real stack could evaluate, and the text used in its place."""

    path: NodePath
    what: str
    placeholder: str


@dataclass
class Resolution:
    value: Any
    unresolved: list[Unresolved] = field(default_factory=list)
    guesses: list[str] = field(default_factory=list)


_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
LAYER_TYPES = frozenset({"AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"})
_LAYER_IN_ARN = re.compile(r"arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:(.+)")


class Resolver:
    """Evaluates intrinsics against one template; one instance per template load."""

    def __init__(
        self, template: Mapping[str, Any], *, region: str, parameters: Mapping[str, Any]
    ) -> None:
        self._region = region
        self._values = _parameter_values(template, parameters) | pseudo_parameters(region)
        self._mappings = _mapping(template.get("Mappings"))
        self._conditions = _mapping(template.get("Conditions"))
        self._resources = _mapping(template.get("Resources"))
        self._evaluating: set[str] = set()
        self._naming: set[str] = set()  # functions (layers) whose name is being evaluated
        self._unnamed: dict[str, str] = {}  # physical names of unnamed functions, when not the id
        self._out = Resolution(None)
        self._functions: dict[str, Callable[[Any, NodePath], Any]] = {
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::GetAtt": self._get_att,
            "Fn::Base64": lambda a, p: _base64(as_text(self._walk(a, p))),
            "Fn::GetAZs": lambda a, p: [f"{self._walk(a, p) or region}{z}" for z in "abc"],
            "Fn::ToJsonString": lambda a, p: json.dumps(self._walk(a, p), separators=(",", ":")),
            "Fn::Length": lambda a, p: len(self._walk(a, p)),
            "Fn::Cidr": lambda a, p: _cidr(*self._walk(a, p)),
        }

    def resolve(self, node: Any, path: NodePath = ()) -> Resolution:
        """Evaluate ``node`` deeply; ``path`` names it in the reported unresolved parts."""
        outer, self._out = self._out, Resolution(None)
        try:
            self._out.value = self._walk(node, path)
            return self._out
        finally:
            self._out = outer

    def condition(self, name: str) -> bool | None:
        """A named condition's value, or None when it depends on something unknown."""
        if name in self._evaluating or name not in self._conditions:
            return None
        self._evaluating.add(name)
        try:
            return self._truth(self._conditions[name])
        finally:
            self._evaluating.discard(name)

    def _walk(self, node: Any, path: NodePath) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                if key == "Ref":
                    return self._ref(arg, path)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return self._intrinsic(key, arg, path)
            walked = {k: self._walk(v, (*path, str(k))) for k, v in node.items()}
            return {k: v for k, v in walked.items() if v is not NO_VALUE}
        if isinstance(node, list):
            items = [self._walk(v, (*path, i)) for i, v in enumerate(node)]
            return [v for v in items if v is not NO_VALUE]
        return node

    def _intrinsic(self, name: str, arg: Any, path: NodePath) -> Any:
        handler = self._functions.get(name)
        if handler is not None:
            try:
                return handler(arg, path)
            except (TypeError, ValueError, IndexError, KeyError, AttributeError):
                return self._miss(path, f"{name} with arguments {arg!r}", f"${{{name}}}")
        if name in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
            truth = self._truth({name: arg})
            if truth is not None:
                return truth
        placeholder = f"${{{_short(name)}:{arg}}}" if isinstance(arg, str) else f"${{{name}}}"
        return self._miss(path, f"{name} {arg!r}", placeholder)

    def _miss(self, path: NodePath, what: str, placeholder: str) -> str:
        self._out.unresolved.append(Unresolved(path, what, placeholder))
        return placeholder

    def _ref(self, name: Any, path: NodePath) -> Any:
        if not isinstance(name, str):
            return self._miss(path, f"Ref {name!r}", "${Ref}")
        if name in self._values:
            value = self._values[name]
            if value is None:
                return self._miss(path, f"Ref {name} (parameter without Default)", f"${{{name}}}")
            return value
        resource = self._resources.get(name)
        if isinstance(resource, dict) and resource.get("Type") in FUNCTION_TYPES:
            return self._function_name(name)
        if isinstance(resource, dict) and resource.get("Type") in LAYER_TYPES:
            return self.layer_arn(name)
        return self._miss(path, f"Ref {name}", f"${{{name}}}")

    def layer_arn(self, logical_id: str) -> str:
        """What a Ref to a template's layer gives (its version ARN): the first and only version
        of its layer here, as a new stack publishes it."""
        return layer_version_arn(self._region, self.layer_name(logical_id), 1)

    def layer_name(self, logical_id: str) -> str:
        """Its LayerName evaluated (the name part of an ARN), else the logical id: SAM's and
        CloudFormation's default, and keepwarm's when the name cannot be evaluated here."""
        props = self._resources[logical_id].get("Properties")
        given = props.get("LayerName") if isinstance(props, dict) else None
        if given is None or logical_id in self._naming:
            return logical_id
        self._naming.add(logical_id)
        try:
            found = self.resolve(given, (logical_id, "LayerName"))
        finally:
            self._naming.discard(logical_id)
        if found.unresolved or not isinstance(found.value, str) or not found.value:
            return logical_id
        in_arn = _LAYER_IN_ARN.fullmatch(found.value)
        return in_arn[1] if in_arn else found.value

    def function_name(self, logical_id: str) -> str:
        return self._function_name(logical_id)

    def has_function_name(self, logical_id: str) -> bool:
        return self._given_name(logical_id) is not None

    def _given_name(self, logical_id: str) -> Any:
        props = self._resources[logical_id].get("Properties")
        return props.get("FunctionName") if isinstance(props, dict) else None

    def name_unnamed(self, logical_id: str, name: str) -> None:
        """The physical name of a function without FunctionName, when its logical id is taken."""
        self._unnamed[logical_id] = name

    def _function_name(self, logical_id: str) -> str:
        """The function's physical name: its FunctionName, evaluated (``!Sub "app-${Stage}"``),
        else the logical id (or the name given by ``name_unnamed``), as keepwarm names it."""
        name = self._given_name(logical_id)
        if name is None:
            return self._unnamed.get(logical_id, logical_id)
        if logical_id in self._naming:
            return logical_id  # it names itself through a Ref
        self._naming.add(logical_id)
        try:
            value = self._walk(name, (logical_id, "FunctionName"))
        finally:
            self._naming.discard(logical_id)
        return value if isinstance(value, str) else logical_id

    def _get_att(self, arg: Any, path: NodePath) -> Any:
        parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
        logical_id, attribute = str(parts[0]), as_text(self._walk(parts[1], path))
        resource = self._resources.get(logical_id)
        is_function = isinstance(resource, dict) and resource.get("Type") in FUNCTION_TYPES
        if is_function and attribute == "Arn":
            account = self._values["AWS::AccountId"]
            partition = self._values["AWS::Partition"]
            name = self._function_name(logical_id)
            return f"arn:{partition}:lambda:{self._region}:{account}:function:{name}"
        is_layer = (
            isinstance(resource, dict) and resource.get("Type") == "AWS::Lambda::LayerVersion"
        )
        if is_layer and attribute == "LayerVersionArn":  # the same as its Ref
            return self.layer_arn(logical_id)
        text = f"{logical_id}.{attribute}"
        return self._miss(path, f"Fn::GetAtt {text}", f"${{{text}}}")

    def _sub(self, arg: Any, path: NodePath) -> str:
        template, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        variables = {k: self._walk(v, path) for k, v in local.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return as_text(variables[name])
            if "." in name:
                return as_text(self._get_att(name, path))
            return as_text(self._ref(name, path))

        return _SUB_VAR.sub(one, template)

    def _join(self, arg: Any, path: NodePath) -> str:
        delimiter, items = arg[0], self._walk(arg[1], path)
        if isinstance(items, str):
            return items
        return str(delimiter).join(as_text(v) for v in items)

    def _select(self, arg: Any, path: NodePath) -> Any:
        index, items = int(self._walk(arg[0], path)), self._walk(arg[1], path)
        return items if isinstance(items, str) else items[index]

    def _split(self, arg: Any, path: NodePath) -> list[str]:
        return as_text(self._walk(arg[1], path)).split(as_text(self._walk(arg[0], path)))

    def _if(self, arg: Any, path: NodePath) -> Any:
        name, when_true, when_false = arg
        truth = self.condition(name)
        if truth is None:
            self._out.guesses.append(
                f"condition {name} cannot be evaluated locally; using its true branch"
            )
            truth = True
        return self._walk(when_true if truth else when_false, path)

    def _find_in_map(self, arg: Any, path: NodePath) -> Any:
        keys = [as_text(self._walk(k, path)) for k in arg[:3]]
        default = arg[3].get("DefaultValue") if len(arg) > 3 else None
        value = self._mappings.get(keys[0], {}).get(keys[1], {}).get(keys[2])
        if value is None and default is not None:
            return self._walk(default, path)
        if value is None:
            return self._miss(path, f"Fn::FindInMap {keys}", "${" + ".".join(keys) + "}")
        return value

    def _truth(self, node: Any) -> bool | None:
        if not isinstance(node, dict) or len(node) != 1:
            return None
        key, arg = next(iter(node.items()))
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = self.resolve(arg[0]), self.resolve(arg[1])
            if left.unresolved or right.unresolved:
                return None
            return as_text(left.value) == as_text(right.value)
        values = [self._truth(item) for item in (arg if isinstance(arg, list) else [arg])]
        if key == "Fn::Not":
            return None if values[0] is None else not values[0]
        if key == "Fn::And":
            return False if False in values else (None if None in values else True)
        if key == "Fn::Or":
            return True if True in values else (None if None in values else False)
        return None


def _parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Declared Parameters (override, else Default); an override of an undeclared name is kept
    too, as ``sam local`` keeps it (a ``!Ref`` to it resolves)."""
    values: dict[str, Any] = {str(name): value for name, value in overrides.items()}
    for name, spec in _mapping(template.get("Parameters")).items():
        value = overrides.get(name, spec.get("Default") if isinstance(spec, dict) else None)
        kind = spec.get("Type", "") if isinstance(spec, dict) else ""
        if isinstance(value, str) and ("List<" in kind or kind == "CommaDelimitedList"):
            value = [part.strip() for part in value.split(",")]
        values[str(name)] = value
    return values


def _mapping(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _cidr(block: str, count: Any, host_bits: Any) -> list[str]:
    network = ipaddress.ip_network(block, strict=False)
    subnets = network.subnets(new_prefix=network.max_prefixlen - int(host_bits))
    return [str(subnet) for subnet, _ in zip(subnets, range(int(count)), strict=False)]


def _base64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _short(name: str) -> str:
    return name.removeprefix("Fn::")


def as_text(value: Any) -> str:
    """A value as CloudFormation would put it in a string: booleans lower-case, None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)
