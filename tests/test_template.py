from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from keepwarm.errors import BadFunction, TemplateError
from keepwarm.template import Template, load_template, read_template

HEADER = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
"""


def write(tmp_path: Path, body: str, *, code_dirs: tuple[str, ...] = ("src",)) -> Path:
    for name in code_dirs:
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return path


def one_function(body: str, tmp_path: Path, **kwargs: object) -> Template:
    loaded = read_template(write(tmp_path, body), **kwargs)  # type: ignore[arg-type]
    assert len(loaded.functions) == 1
    return loaded


def simple(properties: str = "", *, extra: str = "") -> str:
    """A template with one Serverless function ``Fn``; ``properties`` is indented under it."""
    props = textwrap.indent(textwrap.dedent(properties), " " * 6)
    return (
        textwrap.dedent(extra)
        + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        + "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
        + props
    )


# --- properties -------------------------------------------------------------------------------


def test_minimal_function_gets_lambda_defaults(tmp_path: Path) -> None:
    [config] = one_function(simple(), tmp_path).functions
    assert config.name == "Fn"
    assert config.handler == "app.handler"
    assert config.runtime == "python3.12"
    assert config.code_dir == (tmp_path / "src").resolve()
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (128, 3, 512)
    assert config.environment == {}
    assert config.reserved_concurrency is None
    assert config.provisioned_concurrency == 0


def test_every_property(tmp_path: Path) -> None:
    body = simple(
        """\
        FunctionName: my-function
        MemorySize: 1024
        Timeout: 30
        ReservedConcurrentExecutions: 5
        ProvisionedConcurrencyConfig:
          ProvisionedConcurrentExecutions: 2
        EphemeralStorage:
          Size: 2048
        Environment:
          Variables:
            TABLE_NAME: users
            DEBUG: true
            RETRIES: 3
        """
    )
    [config] = one_function(body, tmp_path).functions
    assert config.name == "my-function"
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (1024, 30, 2048)
    assert config.reserved_concurrency == 5
    assert config.provisioned_concurrency == 2
    assert config.environment == {"TABLE_NAME": "users", "DEBUG": "true", "RETRIES": "3"}


def test_numbers_given_as_strings(tmp_path: Path) -> None:
    [config] = one_function(simple('MemorySize: "256"\nTimeout: "10"\n'), tmp_path).functions
    assert (config.memory_mb, config.timeout_s) == (256, 10)


def test_lambda_function_with_local_code_path(tmp_path: Path) -> None:
    body = """\
    Resources:
      Raw:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: nodejs20.x
          Handler: index.handler
          Code: src
          MemorySize: 512
    """
    [config] = one_function(body, tmp_path).functions
    assert (config.name, config.runtime, config.memory_mb) == ("Raw", "nodejs20.x", 512)
    assert config.code_dir == (tmp_path / "src").resolve()


def test_lambda_function_inline_zipfile_is_written_once(tmp_path: Path) -> None:
    body = """\
    Resources:
      Inline:
        Type: AWS::Lambda::Function
        Properties:
          FunctionName: inline-fn
          Runtime: python3.12
          Handler: index.handler
          Code:
            ZipFile: |
              def handler(event, context):
                  return "inline"
    """
    path = write(tmp_path, body)
    [config] = load_template(path)
    source = config.code_dir / "index.py"
    assert config.code_dir == (tmp_path / ".keepwarm" / "inline" / "inline-fn").resolve()
    assert 'return "inline"' in source.read_text()
    before = source.stat().st_mtime_ns
    [again] = load_template(path)
    assert again.code_dir == config.code_dir
    assert source.stat().st_mtime_ns == before


def test_inline_code_in_custom_build_dir_and_module_path(tmp_path: Path) -> None:
    body = simple('Handler: pkg/mod.handler\nInlineCode: "x = 1"\n')
    [config] = one_function(body, tmp_path, build_dir=tmp_path / "build").functions
    assert config.code_dir == (tmp_path / "build" / "Fn").resolve()
    assert (config.code_dir / "pkg" / "mod.py").read_text() == "x = 1"


def test_inline_code_needs_a_known_runtime_family(tmp_path: Path) -> None:
    body = """\
    Resources:
      Inline:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: provided.al2023
          Code: {ZipFile: "echo hi"}
    """
    with pytest.raises(TemplateError, match="Function Inline: inline code needs a Python"):
        read_template(write(tmp_path, body))


def test_codeuri_defaults_to_template_dir(tmp_path: Path) -> None:
    body = simple().replace("      CodeUri: src/\n", "")
    [config] = one_function(body, tmp_path).functions
    assert config.code_dir == tmp_path.resolve()


def test_non_function_resources_are_ignored(tmp_path: Path) -> None:
    body = simple() + "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties: {}\n"
    [config] = one_function(body, tmp_path).functions
    assert config.name == "Fn"


def test_directory_path_finds_template_yaml(tmp_path: Path) -> None:
    write(tmp_path, simple())
    assert [c.name for c in load_template(tmp_path)] == ["Fn"]


def test_custom_runtime_needs_no_handler(tmp_path: Path) -> None:
    body = (
        simple()
        .replace("python3.12", "provided.al2023")
        .replace("      Handler: app.handler\n", "")
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bootstrap").write_text("#!/bin/sh\n")
    [config] = one_function(body, tmp_path).functions
    assert (config.runtime, config.handler) == ("provided.al2023", "")


def test_custom_runtime_without_bootstrap_warns(tmp_path: Path) -> None:
    body = simple().replace("python3.12", "provided.al2")
    loaded = one_function(body, tmp_path)
    assert any("needs a bootstrap file" in w for w in loaded.warnings)


# --- Globals -----------------------------------------------------------------------------------


GLOBALS = """\
Globals:
  Function:
    Runtime: python3.11
    Timeout: 20
    MemorySize: 256
    CodeUri: src/
    Environment:
      Variables:
        SHARED: from-globals
        OVERRIDDEN: from-globals
"""


def test_globals_merge(tmp_path: Path) -> None:
    body = GLOBALS + textwrap.dedent(
        """\
        Resources:
          A:
            Type: AWS::Serverless::Function
            Properties:
              Handler: a.handler
              Timeout: 5
              Environment:
                Variables:
                  OVERRIDDEN: from-function
                  OWN: mine
          B:
            Type: AWS::Serverless::Function
            Properties:
              Handler: b.handler
        """
    )
    a, b = read_template(write(tmp_path, body)).functions
    assert (a.runtime, a.timeout_s, a.memory_mb) == ("python3.11", 5, 256)
    assert a.environment == {"SHARED": "from-globals", "OVERRIDDEN": "from-function", "OWN": "mine"}
    assert (b.timeout_s, b.memory_mb, b.code_dir) == (20, 256, (tmp_path / "src").resolve())
    assert b.environment == {"SHARED": "from-globals", "OVERRIDDEN": "from-globals"}


def test_globals_do_not_apply_to_plain_lambda_functions(tmp_path: Path) -> None:
    body = GLOBALS + textwrap.dedent(
        """\
        Resources:
          Raw:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: a.handler
              Code: src
        """
    )
    [config] = one_function(body, tmp_path).functions
    assert (config.timeout_s, config.memory_mb, config.environment) == (3, 128, {})


# --- keepwarm metadata and overrides ------------------------------------------------------------


def test_keepwarm_metadata(tmp_path: Path) -> None:
    body = simple().replace(
        "    Properties:\n",
        "    Metadata:\n      keepwarm:\n        keep_alive: 30\n        max_lifetime: 600\n"
        "        check_leaks: true\n        reuse: 'random:0.5'\n"
        "        max_invocations_per_env: 7\n        snapshot: true\n    Properties:\n",
    )
    [config] = one_function(body, tmp_path).functions
    assert config.keep_alive_s == 30.0
    assert config.max_lifetime_s == 600.0
    assert config.check_leaks is True
    assert config.reuse == "random:0.5"
    assert config.max_invocations_per_env == 7
    assert config.snapshot is True


def test_template_level_keepwarm_metadata_is_a_default(tmp_path: Path) -> None:
    extra = "Metadata:\n  keepwarm:\n    keep_alive: 5\n    reuse: never\n"
    body = simple(extra=extra).replace(
        "    Properties:\n", "    Metadata: {keepwarm: {reuse: always}}\n    Properties:\n"
    )
    [config] = one_function(body, tmp_path).functions
    assert (config.keep_alive_s, config.reuse) == (5.0, "always")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{keepalive: 3}", "unknown Metadata.keepwarm key 'keepalive'"),
        ("{check_leaks: maybe}", "Metadata.keepwarm.check_leaks must be true or false"),
        ("{keep_alive: soon}", "Metadata.keepwarm.keep_alive must be seconds"),
        ("{reuse: sometimes}", "Reuse mode 'sometimes' is not valid"),
        ("{keep_alive: -1}", "Keep-alive must be zero or more seconds"),
        ("{keep_alive: .nan}", "Keep-alive must be zero or more seconds"),
        ("{max_lifetime: .inf}", "Max lifetime must be a finite positive number"),
        (
            "{max_invocations_per_env: 0}",
            "max_invocations_per_env must be a whole number, at least 1",
        ),
    ],
)
def test_bad_keepwarm_metadata(tmp_path: Path, metadata: str, message: str) -> None:
    body = simple().replace(
        "    Properties:\n", f"    Metadata: {{keepwarm: {metadata}}}\n    Properties:\n"
    )
    with pytest.raises(TemplateError, match=f"^Function Fn: {message}"):
        read_template(write(tmp_path, body))


def test_overrides_apply_to_every_function_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, simple())
    [config] = load_template(path, overrides={"keep_alive_s": 5, "timeout_s": 60})
    assert (config.keep_alive_s, config.timeout_s) == (5, 60)
    with pytest.raises(TemplateError, match="Unknown override"):
        load_template(path, overrides={"keep_alive": 5})
    with pytest.raises(TemplateError, match="Function Fn: 1 validation error detected"):
        load_template(path, overrides={"timeout_s": 0})


# --- intrinsics --------------------------------------------------------------------------------

ALL_TAGS = """\
Parameters:
  Stage: {Type: String, Default: dev}
  Cidr: {Type: String, Default: 10.0.0.0/16}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  Both: !And [!Condition IsDev, !Not [!Equals [!Ref Stage, prod]]]
  Either: !Or [!Condition IsDev, !Equals [a, b]]
Mappings:
  M: {dev: {key: mapped}}
"""

TAG_EXAMPLES = {
    "Ref": "!Ref Stage",
    "Sub": "!Sub '${Stage}-x'",
    "GetAtt": "!GetAtt Table.Arn",
    "Join": "!Join ['-', [a, b]]",
    "If": "!If [IsDev, yes-dev, no-dev]",
    "Select": "!Select [0, [first, second]]",
    "Split": "!Join [':', !Split [',', 'a,b']]",
    "FindInMap": "!FindInMap [M, !Ref Stage, key]",
    "ImportValue": "!ImportValue shared-bucket",
    "GetAZs": "!Select [0, !GetAZs '']",
    "Base64": "!Base64 hello",
    "Cidr": "!Select [0, !Cidr [!Ref Cidr, 4, 8]]",
    "Equals": "!Equals [a, a]",
    "And": "!If [Both, both-true, both-false]",
    "Or": "!If [Either, or-true, or-false]",
    "Not": "!Not [!Equals [a, b]]",
    "Transform": "!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}",
}


@pytest.mark.parametrize("tag", sorted(TAG_EXAMPLES))
def test_every_short_form_tag_loads(tmp_path: Path, tag: str) -> None:
    body = simple(f"Environment:\n  Variables:\n    VALUE: {TAG_EXAMPLES[tag]}\n", extra=ALL_TAGS)
    body += "      Policies:\n        - !Condition IsDev\n        - !GetAtt Table.Arn\n"
    [config] = one_function(body, tmp_path).functions
    assert isinstance(config.environment["VALUE"], str)


def test_intrinsics_resolved_locally(tmp_path: Path) -> None:
    variables = "\n".join(f"    {tag.upper()}: {value}" for tag, value in TAG_EXAMPLES.items())
    body = simple(f"Environment:\n  Variables:\n{variables}\n", extra=ALL_TAGS)
    [config] = one_function(body, tmp_path).functions
    env = config.environment
    assert env["REF"] == "dev"
    assert env["SUB"] == "dev-x"
    assert env["GETATT"] == "${Table.Arn}"
    assert env["JOIN"] == "a-b"
    assert env["IF"] == "yes-dev"
    assert env["SELECT"] == "first"
    assert env["SPLIT"] == "a:b"
    assert env["FINDINMAP"] == "mapped"
    assert env["GETAZS"] == "us-east-1a"
    assert env["BASE64"] == "aGVsbG8="
    assert env["EQUALS"] == "true"
    assert env["AND"] == "both-true"
    assert env["OR"] == "or-true"
    assert env["NOT"] == "true"
    assert env["IMPORTVALUE"] == "${ImportValue:shared-bucket}"
    assert env["CIDR"] == "10.0.0.0/24"
    assert env["TRANSFORM"] == "${Fn::Transform}"


def test_ref_and_sub_pseudo_parameters(tmp_path: Path) -> None:
    body = simple(
        """\
        FunctionName: !Sub "${AWS::StackName}-fn"
        Environment:
          Variables:
            REGION: !Ref AWS::Region
            ACCOUNT: !Ref AWS::AccountId
            ARN: !Sub "arn:${AWS::Partition}:s3:::${AWS::StackName}.${AWS::URLSuffix}"
            LITERAL: !Sub "${!NotAVariable}"
            LOCAL: !Sub ["${Greeting}, ${AWS::Region}", {Greeting: hi}]
            DROPPED: !Ref AWS::NoValue
        """
    )
    [config] = one_function(body, tmp_path, region="eu-west-1").functions
    assert config.name == "keepwarm-fn"
    assert config.environment == {
        "REGION": "eu-west-1",
        "ACCOUNT": "000000000000",
        "ARN": "arn:aws:s3:::keepwarm.amazonaws.com",
        "LITERAL": "${NotAVariable}",
        "LOCAL": "hi, eu-west-1",
    }


def test_parameter_defaults_and_overrides(tmp_path: Path) -> None:
    extra = """\
    Parameters:
      Memory: {Type: Number, Default: 512}
      Stage: {Type: String, Default: dev}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
    """
    body = simple(
        "MemorySize: !Ref Memory\nTimeout: !If [IsProd, 60, 10]\n"
        "Environment: {Variables: {STAGE: !Ref Stage}}\n",
        extra=extra,
    )
    path = write(tmp_path, body)
    [dev] = load_template(path)
    assert (dev.memory_mb, dev.timeout_s, dev.environment) == (512, 10, {"STAGE": "dev"})
    [prod] = load_template(path, parameters={"Stage": "prod", "Memory": "1024"})
    assert (prod.memory_mb, prod.timeout_s, prod.environment) == (1024, 60, {"STAGE": "prod"})


def test_an_override_of_an_undeclared_parameter_is_kept_with_a_warning(tmp_path: Path) -> None:
    """As ``sam local`` keeps it: a ``!Ref`` to it resolves (``sam deploy`` would refuse it)."""
    extra = "Parameters:\n  Stage: {Type: String, Default: dev}\n"
    body = simple("Environment: {Variables: {STAGE: !Ref Stage, EXTRA: !Ref Extra}}\n", extra=extra)
    loaded = read_template(write(tmp_path, body), parameters={"Stage": "prod", "Extra": "x"})
    assert loaded.functions[0].environment == {"STAGE": "prod", "EXTRA": "x"}
    assert loaded.warnings == [
        "Parameter Extra is overridden but the template declares no such parameter."
    ]


def test_refs_to_functions_resolve_to_local_names(tmp_path: Path) -> None:
    body = simple(
        "Environment:\n  Variables:\n    PEER: !Ref Peer\n    PEER_ARN: !GetAtt Peer.Arn\n"
    )
    body += textwrap.indent(
        "Peer:\n  Type: AWS::Serverless::Function\n  Properties:\n"
        "    FunctionName: peer-fn\n    Runtime: python3.12\n    Handler: p.handler\n"
        "    CodeUri: src/\n",
        "  ",
    )
    fn, _ = read_template(write(tmp_path, body)).functions
    assert fn.environment == {
        "PEER": "peer-fn",
        "PEER_ARN": "arn:aws:lambda:us-east-1:000000000000:function:peer-fn",
    }


def test_unresolvable_env_var_becomes_placeholder_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = simple("Environment:\n  Variables:\n    TABLE_ARN: !GetAtt SomeTable.Arn\n")
    with caplog.at_level(logging.WARNING, logger="keepwarm.template"):
        [config] = load_template(write(tmp_path, body))
    assert config.environment == {"TABLE_ARN": "${SomeTable.Arn}"}
    assert "Function Fn: Environment.Variables.TABLE_ARN: Fn::GetAtt SomeTable.Arn" in caplog.text


def test_unknown_condition_takes_true_branch_with_warning(tmp_path: Path) -> None:
    extra = "Parameters:\n  Env: {Type: String}\nConditions:\n  C: !Equals [!Ref Env, x]\n"
    body = simple("Timeout: !If [C, 7, 9]\n", extra=extra)
    loaded = one_function(body, tmp_path)
    assert loaded.functions[0].timeout_s == 7
    assert any("condition C cannot be evaluated locally" in w for w in loaded.warnings)


def test_unresolvable_number_falls_back_to_globals_then_default(tmp_path: Path) -> None:
    extra = "Globals:\n  Function:\n    MemorySize: 256\n"
    body = simple("MemorySize: !GetAtt Sizes.Memory\nTimeout: !ImportValue t\n", extra=extra)
    loaded = one_function(body, tmp_path)
    [config] = loaded.functions
    assert (config.memory_mb, config.timeout_s) == (256, 3)
    assert any("MemorySize" in w and "using 256 from Globals" in w for w in loaded.warnings)
    assert any("Timeout" in w and "Lambda's default 3" in w for w in loaded.warnings)


def test_unresolvable_function_name_falls_back_to_logical_id(tmp_path: Path) -> None:
    loaded = one_function(simple("FunctionName: !ImportValue name\n"), tmp_path)
    assert loaded.functions[0].name == "Fn"
    assert any("FunctionName cannot be resolved" in w for w in loaded.warnings)


def test_resource_condition_false_skips_the_function(tmp_path: Path) -> None:
    extra = "Conditions:\n  Never: !Equals [a, b]\n"
    body = simple(extra=extra) + textwrap.indent(
        "Skipped:\n  Type: AWS::Serverless::Function\n  Condition: Never\n  Properties:\n"
        "    Runtime: python3.12\n    Handler: s.handler\n    CodeUri: src/\n",
        "  ",
    )
    assert [c.name for c in read_template(write(tmp_path, body)).functions] == ["Fn"]


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            "Timeout: 901",
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900",
        ),
        (
            "MemorySize: 64",
            "1 validation error detected: Value '64' at 'memorySize' failed to satisfy "
            "constraint: Member must have value greater than or equal to 128",
        ),
        ("EphemeralStorage: {Size: 100}", "Value '100' at 'ephemeralStorage.size'"),
        ("ReservedConcurrentExecutions: -1", "Value '-1' at 'reservedConcurrentExecutions'"),
        ("FunctionName: 'has space'", "Value 'has space' at 'functionName'"),
        ("Environment: {Variables: {AWS_REGION: x}}", "Reserved keys used in this request"),
        ("MemorySize: lots", "MemorySize must be an integer, got 'lots'"),
        ("Runtime: [a]", "Runtime must be a string"),
    ],
)
def test_validation_messages(tmp_path: Path, properties: str, message: str) -> None:
    body = simple(properties + "\n")
    with pytest.raises(TemplateError) as caught:
        read_template(write(tmp_path, body))
    assert str(caught.value).startswith("Function Fn: ")
    assert message in str(caught.value)


def test_unknown_runtime_uses_lambdas_words(tmp_path: Path) -> None:
    body = simple().replace("python3.12", "pyhton3.12")
    with pytest.raises(TemplateError, match=r"^Function Fn: Value pyhton3.12 at 'runtime' fail"):
        read_template(write(tmp_path, body))


def test_functions_keepwarm_cannot_run_are_skipped_with_a_warning(tmp_path: Path) -> None:
    body = simple() + (
        "  Java:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: java21, Handler: a.B::handle, CodeUri: src/}\n"
        "  Image:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {PackageType: Image, ImageUri: repo/app:latest}\n"
    )
    loaded = read_template(write(tmp_path, body))
    assert [f.name for f in loaded.functions] == ["Fn"]
    assert loaded.warnings == [
        "Function Java: runtime java21 is not one keepwarm runs (Python 3.9-3.14, Node.js "
        "18-24, provided). Skipped.",
        "Function Image: PackageType Image is not supported; keepwarm runs zip functions. Skipped.",
    ]
    only = simple().replace("python3.12", "java21")
    with pytest.raises(TemplateError, match=r"that keepwarm can run\. Function Fn: runtime java21"):
        read_template(write(tmp_path, only))


def test_keep_broken_returns_what_cannot_run_beside_the_others(tmp_path: Path) -> None:
    """How ``keepwarm serve`` reads a template: each function's own problem is that function's
    (served as Failed), not the template's."""
    body = simple() + (
        "  Java:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: java21, Handler: a.B::handle, CodeUri: src/}\n"
        "  Missing:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: a.handler, CodeUri: missing/}\n"
        "  Spaced:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {FunctionName: 'has space', Runtime: python3.12, Handler: a.h}\n"
    )
    path = write(tmp_path, body)
    loaded = read_template(path, keep_broken=True)
    assert [f.name for f in loaded.functions] == ["Fn"]
    assert [(b.logical_id, b.name, b.reason_code) for b in loaded.broken] == [
        ("Java", "Java", "InvalidRuntime"),
        ("Missing", "Missing", "InvalidConfiguration"),
        ("Spaced", "Spaced", "InvalidConfiguration"),  # its FunctionName is not a valid name
    ]
    looked = tmp_path.resolve() / "missing"
    assert loaded.broken[1].reason == f"CodeUri 'missing/' does not exist (looked for {looked})."
    assert loaded.broken[1].describe() == (
        f"keepwarm: function Missing cannot run (State: Failed): {loaded.broken[1].reason}"
    )
    assert loaded.warnings == [] and loaded.logical_ids["Missing"] == "Missing"
    with pytest.raises(TemplateError, match=r"^Function Missing: CodeUri 'missing/' does not"):
        read_template(path)  # every other reader refuses it whole, as before


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            "  A:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {FunctionName: same, Runtime: python3.12, Handler: a.h}\n"
            "  B:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {FunctionName: same, Runtime: pyhton3.12, Handler: a.h}\n",
            r"Two functions in the template are named same\.",
        ),
        ("  T: {Type: AWS::S3::Bucket}\n", "defines no AWS::Serverless::Function"),
        ("  T: 3\n", "Resource T must be a mapping"),
    ],
)
def test_keep_broken_still_refuses_the_template_as_a_whole(
    tmp_path: Path, resources: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        read_template(write(tmp_path, "Resources:\n" + resources), keep_broken=True)


def test_keep_broken_with_no_function_that_runs(tmp_path: Path) -> None:
    only = simple().replace("python3.12", "java21")
    loaded = read_template(write(tmp_path, only), keep_broken=True)
    assert loaded.functions == [] and [b.name for b in loaded.broken] == ["Fn"]


def test_missing_runtime_and_handler(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Function Fn: Runtime is required"):
        read_template(write(tmp_path, simple().replace("      Runtime: python3.12\n", "")))
    with pytest.raises(TemplateError, match="Function Fn: Handler is required"):
        read_template(write(tmp_path, simple().replace("      Handler: app.handler\n", "")))


# --- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Template not found"):
        load_template(tmp_path / "nope.yaml")
    with pytest.raises(TemplateError, match=r"No template\.yaml found"):
        load_template(tmp_path)


def test_bad_yaml_is_one_line_with_position(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Fn: [unclosed\n")
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    message = str(caught.value)
    assert "is not valid YAML" in message
    assert "line 3" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just a string\n", "must be a mapping"),
        ("Description: x\n", "has no Resources mapping"),
        ("Resources:\n  T: {Type: AWS::S3::Bucket}\n", "defines no AWS::Serverless::Function"),
        ("Resources:\n  T: 3\n", "Resource T must be a mapping"),
    ],
)
def test_template_shape_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    with pytest.raises(TemplateError, match=message):
        load_template(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("CodeUri: missing/", "Function Fn: CodeUri 'missing/' does not exist"),
        ("CodeUri: {Bucket: b, Key: k}", "is not a local path"),
        ("CodeUri: s3://bucket/app.zip", "is not a local path"),
        ("CodeUri: app.zip", "is a file; keepwarm needs a directory"),
        ("PackageType: Image", "PackageType Image is not supported"),
    ],
)
def test_code_location_errors(tmp_path: Path, change: str, message: str) -> None:
    (tmp_path / "app.zip").write_bytes(b"PK")
    body = simple().replace("      CodeUri: src/\n", "") + f"      {change}\n"
    with pytest.raises(TemplateError, match=message):
        read_template(write(tmp_path, body))


def test_lambda_function_without_code(tmp_path: Path) -> None:
    body = """\
    Resources:
      Raw:
        Type: AWS::Lambda::Function
        Properties: {Runtime: python3.12, Handler: a.handler}
    """
    with pytest.raises(TemplateError, match="Function Raw: Code is required"):
        read_template(write(tmp_path, body))


def test_duplicate_function_names(tmp_path: Path) -> None:
    body = simple("FunctionName: same\n") + textwrap.indent(
        "Other:\n  Type: AWS::Serverless::Function\n  Properties:\n    FunctionName: same\n"
        "    Runtime: python3.12\n    Handler: a.handler\n    CodeUri: src/\n",
        "  ",
    )
    with pytest.raises(TemplateError, match="Two functions in the template are named same"):
        read_template(write(tmp_path, body))


def test_unresolvable_nested_number_warns(tmp_path: Path) -> None:
    loaded = one_function(simple("EphemeralStorage: !GetAtt Disk.Size\n"), tmp_path)
    assert loaded.functions[0].ephemeral_storage_mb == 512
    assert any("EphemeralStorage.Size cannot be resolved" in w for w in loaded.warnings)


def test_logical_ids_map_to_function_names(tmp_path: Path) -> None:
    body = GLOBALS + textwrap.dedent(
        """\
        Resources:
          Named:
            Type: AWS::Serverless::Function
            Properties:
              Handler: a.handler
              FunctionName: !Sub "${AWS::Region}-named"
          Plain:
            Type: AWS::Serverless::Function
            Properties:
              Handler: b.handler
        """
    )
    loaded = read_template(write(tmp_path, body))
    assert loaded.logical_ids == {"Named": "us-east-1-named", "Plain": "Plain"}


def test_event_invoke_config_is_read_and_checked(tmp_path: Path) -> None:
    body = simple(
        """\
        FunctionName: fn
        EventInvokeConfig:
          MaximumRetryAttempts: 1
          MaximumEventAgeInSeconds: "120"
          DestinationConfig:
            OnSuccess:
              Type: Lambda
              Destination: arn:aws:lambda:us-east-1:000000000000:function:other
        DeadLetterQueue:
          Type: SNS
          TargetArn: arn:aws:sns:us-east-1:000000000000:t
        """
    )
    [config] = one_function(body, tmp_path).functions
    assert config.event_invoke == {
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 120,
        "DestinationConfig": {
            "OnSuccess": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:other"},
            "OnFailure": {},
        },
    }
    assert config.dead_letter_target == "arn:aws:sns:us-east-1:000000000000:t"
    for bad, words in (
        ("MaximumRetryAttempts: 3", "between 0 and 2"),
        ("MaximumEventAgeInSeconds: 30", "between 60 and 21600"),
        (
            "DestinationConfig: {OnFailure: {Destination: !GetAtt Fn.Arn}}",
            "cannot be its own destination",
        ),
    ):
        text = simple(f"EventInvokeConfig:\n  {bad}\n")
        with pytest.raises(TemplateError, match=words):
            read_template(write(tmp_path, text))


def test_ref_and_getatt_use_a_function_name_given_by_an_intrinsic(tmp_path: Path) -> None:
    body = simple(
        """\
        FunctionName: !Sub "app-${Stage}"
        Environment:
          Variables:
            SELF_NAME: !Ref Fn
            SELF_ARN: !GetAtt Fn.Arn
            OTHER: !Sub "${Fn.Arn}:live"
        """,
        extra="Parameters:\n  Stage:\n    Type: String\n    Default: dev\n",
    )
    [config] = one_function(body, tmp_path).functions
    arn = "arn:aws:lambda:us-east-1:000000000000:function:app-dev"
    assert config.name == "app-dev"
    assert config.environment == {
        "SELF_NAME": "app-dev",
        "SELF_ARN": arn,
        "OTHER": arn + ":live",
    }


def test_globals_logging_config_merges_member_by_member(tmp_path: Path) -> None:
    body = simple(
        "LoggingConfig: {LogGroup: /mine}\n",
        extra="Globals:\n  Function:\n"
        "    LoggingConfig: {LogFormat: JSON, ApplicationLogLevel: DEBUG}\n",
    )
    [config] = one_function(body, tmp_path).functions
    assert config.logging.given() == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "LogGroup": "/mine",
    }


def test_a_template_nested_too_deeply_is_one_clear_error(tmp_path: Path) -> None:
    deep = "[" * 3000 + "]" * 3000
    with pytest.raises(TemplateError, match="nested too deeply"):
        read_template(write(tmp_path, simple(f"Description: {deep}\n")))


def test_a_function_removes_a_global_variable_with_no_value(tmp_path: Path) -> None:
    body = simple(
        """\
        Environment:
          Variables:
            SHARED: !Ref AWS::NoValue
            OWN: mine
        """,
        extra="Globals:\n  Function:\n    Environment:\n      Variables: {SHARED: g, KEPT: k}\n",
    )
    [config] = one_function(body, tmp_path).functions
    assert config.environment == {"KEPT": "k", "OWN": "mine"}


def test_an_unnamed_function_whose_logical_id_another_takes_gets_a_stack_style_name(
    tmp_path: Path,
) -> None:
    body = simple("FunctionName: Other\nEnvironment: {Variables: {PEER: !Ref Other}}\n") + (
        "  Other:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src/}\n"
    )
    loaded = read_template(write(tmp_path, body))
    named, unnamed = loaded.functions
    assert named.name == "Other"
    assert (
        unnamed.name.startswith("keepwarm-Other-")
        and len(unnamed.name) == len("keepwarm-Other-") + 12
    )
    assert named.environment == {"PEER": unnamed.name}
    assert loaded.name_for("Other") == "Other"  # the FunctionName wins, as documented


# --- the readers that run functions (invoke, the Python API, audit --replay, demo) ---------------

TWO = (
    "Resources:\n"
    "  Fn:\n    Type: AWS::Serverless::Function\n"
    "    Properties: {Runtime: python3.12, Handler: app.handler, CodeUri: src/}\n"
    "  Missing:\n    Type: AWS::Serverless::Function\n"
    "    Properties: {FunctionName: gone, Runtime: python3.12, Handler: a.h, CodeUri: x/}\n"
)


def test_usable_refuses_only_the_function_asked_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded = read_template(write(tmp_path, TWO), keep_broken=True)
    with caplog.at_level(logging.WARNING, logger="keepwarm.template"):
        assert loaded.usable("Fn") is loaded
    reason = f"CodeUri 'x/' does not exist (looked for {tmp_path.resolve() / 'x'})."
    assert [r.getMessage() for r in caplog.records] == [
        f"keepwarm: function gone (Missing in the template) cannot run (skipped): {reason}"
    ]
    for name in ("Missing", "gone"):
        with pytest.raises(BadFunction) as refused:
            loaded.usable("Fn", name)
        assert str(refused.value) == f"Function Missing: {reason}"
    assert loaded.failed("Fn") is None and loaded.failed("nope") is None


@pytest.mark.parametrize(
    "body",
    [
        TWO.replace("Resources:", "Globals: {Function: {Timeout: 901}}\nResources:"),
        simple().replace("python3.12", "java21"),
        simple().replace("python3.12", "java21") + TWO.split("\n", 4)[4],
    ],
    ids=["globals", "unsupported", "unsupported-then-broken"],
)
def test_usable_refuses_a_template_of_which_nothing_runs_as_before(
    tmp_path: Path, body: str
) -> None:
    """With the message the strict reader gives: what breaks every function is the template's
    (a function asked for by name still gets its own error first)."""
    path = write(tmp_path, body)
    with pytest.raises(TemplateError) as strict:
        read_template(path)
    for wanted in ((), ("Nope",)):
        with pytest.raises(TemplateError) as tolerant:
            read_template(path, keep_broken=True).usable(*wanted)
        assert str(tolerant.value) == str(strict.value)


def test_a_function_that_cannot_run_keeps_the_runtime_and_handler_it_was_given(
    tmp_path: Path,
) -> None:
    body = TWO + (
        "  Java:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: java21, Handler: a.B::handle, CodeUri: src/}\n"
        "  Unresolved:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: !GetAtt Layer.Runtime, Handler: [a], CodeUri: src/}\n"
        "  Image:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {PackageType: Image, ImageUri: repo/app:latest}\n"
    )
    loaded = read_template(write(tmp_path, body), keep_broken=True)
    assert [(b.name, b.runtime, b.handler) for b in loaded.broken] == [
        ("gone", "python3.12", "a.h"),
        ("Java", "java21", "a.B::handle"),
        ("Unresolved", "", ""),
        ("Image", "", ""),
    ]
