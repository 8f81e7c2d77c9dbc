"""A template's layers (AWS::Serverless::LayerVersion, AWS::Lambda::LayerVersion) and what a
function's ``Layers`` makes of them: ARNs recorded, local content mounted in order."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from pathlib import Path

import pytest

from keepwarm import Runtime
from keepwarm.config import LayerConfig, ServerConfig, layer_version_arn
from keepwarm.errors import BadFunction
from keepwarm.template import Template, load_template, read_template

OTHER = "arn:aws:lambda:us-east-1:123456789012:layer:elsewhere:7"


def arn(name: str) -> str:
    return layer_version_arn("us-east-1", name, 1)


def write(root: Path, body: str, files: dict[str, str] | None = None) -> Path:
    """``template.yaml`` in ``root``, a function's code in ``src/`` and ``files`` beside it."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    path = root / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + body)
    return path


def function(layers: str, name: str = "Fn") -> str:
    """A Serverless function resource (under ``Resources:``) with ``layers`` as its Layers."""
    return (
        f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
        f"      Layers: {layers}\n"
    )


DEPS = """\
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: deps/
"""


def read(root: Path, body: str, files: dict[str, str] | None = None) -> Template:
    return read_template(write(root, body, files), keep_broken=True)


# --- the layer resources ----------------------------------------------------------------------


def test_a_serverless_layer_is_read_with_its_properties(tmp_path: Path) -> None:
    body = textwrap.dedent(
        """\
    Resources:
      Deps:
        Type: AWS::Serverless::LayerVersion
        Properties:
          ContentUri: deps/
          Description: shared code
          CompatibleRuntimes: [python3.12, python3.13]
          CompatibleArchitectures: [arm64]
          LicenseInfo: MIT
          RetentionPolicy: Delete
    """
    )
    loaded = read(tmp_path, body + function("[]"), {"deps/python/shared.py": "X = 1\n"})
    assert loaded.layers == [
        LayerConfig(
            name="Deps",  # SAM's default: the logical id
            content_dir=(tmp_path / "deps").resolve(),  # no BuildMethod: the layer root as is
            description="shared code",
            compatible_runtimes=("python3.12", "python3.13"),
            compatible_architectures=("arm64",),
            license_info="MIT",
        )
    ]
    assert loaded.warnings == []


def test_a_cloudformation_layer_with_a_local_content_path(tmp_path: Path) -> None:
    """As ``sam build`` writes an AWS::Lambda::LayerVersion: Content is a path; its LayerName
    may come from a parameter."""
    body = textwrap.dedent(
        """\
    Parameters:
      Stage: {Type: String, Default: dev}
    Resources:
      Lib:
        Type: AWS::Lambda::LayerVersion
        Properties:
          LayerName: !Sub "lib-${Stage}"
          Content: built/lib
    """
    )
    loaded = read(tmp_path, body + function("[!Ref Lib]"), {"built/lib/python/lib.py": ""})
    [layer] = loaded.layers
    assert (layer.name, layer.content_dir) == ("lib-dev", (tmp_path / "built/lib").resolve())
    [fn] = loaded.functions
    assert fn.descriptive.layers == (arn("lib-dev"),)


def test_a_function_gets_globals_layers_first_then_its_own(tmp_path: Path) -> None:
    body = textwrap.dedent(
        f"""\
    Globals:
      Function:
        Layers: [!Ref Base, {OTHER}]
    Resources:
      Base:
        Type: AWS::Serverless::LayerVersion
        Properties: {{ContentUri: base/, LayerName: base}}
      Extra:
        Type: AWS::Lambda::LayerVersion
        Properties: {{Content: extra/}}
    """
    )
    deps = '!Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:layer:Deps:1"'
    layers = f"[!GetAtt Extra.LayerVersionArn, {deps}]"
    files = {"base/a.txt": "", "extra/b.txt": "", "deps/c.txt": ""}
    [fn] = read(tmp_path, body + DEPS + function(layers), files).functions
    assert fn.descriptive.layers == (arn("base"), OTHER, arn("Extra"), arn("Deps"))
    # a literal ARN of another account is recorded, not mounted; the template's are mounted
    assert fn.layer_dirs == tuple((tmp_path / d).resolve() for d in ("base", "extra", "deps"))


def test_a_layer_no_function_names_is_still_read(tmp_path: Path) -> None:
    loaded = read(tmp_path, "Resources:\n" + DEPS + function("[]"), {"deps/x.py": ""})
    assert [layer.name for layer in loaded.layers] == ["Deps"]
    assert loaded.functions[0].layer_dirs == ()


def test_an_unresolvable_layer_entry_is_left_out_with_a_warning_as_before(tmp_path: Path) -> None:
    loaded = read(tmp_path, "Resources:\n" + function("[!GetAtt Maker.Arn]"))
    [fn] = loaded.functions
    assert fn.descriptive.layers == () and fn.layer_dirs == ()
    assert loaded.warnings == [
        "Function Fn: Layers: ${Maker.Arn} is not a layer ARN here; not listed."
    ]


def test_a_layer_whose_condition_is_false_is_not_served(tmp_path: Path) -> None:
    body = textwrap.dedent(
        """\
    Conditions:
      Never: !Equals [a, b]
    Resources:
      Deps:
        Type: AWS::Serverless::LayerVersion
        Condition: Never
        Properties: {ContentUri: deps/}
    """
    )
    loaded = read(tmp_path, body + function("[!Ref Deps]"), {"deps/x.py": ""})
    assert loaded.layers == []
    assert loaded.functions[0].descriptive.layers == (arn("Deps"),)
    assert loaded.functions[0].layer_dirs == ()
    assert "Layer Deps: not served: its Condition Never is false." in loaded.warnings


# --- content only a deployed stack has: recorded, not mounted ---------------------------------


@pytest.mark.parametrize(
    ("layer_type", "content"),
    [
        ("AWS::Serverless::LayerVersion", "ContentUri: s3://bucket/deps.zip"),
        ("AWS::Serverless::LayerVersion", "ContentUri: {Bucket: bucket, Key: deps.zip}"),
        ("AWS::Lambda::LayerVersion", "Content: {S3Bucket: bucket, S3Key: deps.zip}"),
        ("AWS::Serverless::LayerVersion", "ContentUri: !GetAtt Packager.Location"),
    ],
)
def test_a_layer_in_s3_is_recorded_by_arn_and_not_mounted(
    tmp_path: Path, layer_type: str, content: str
) -> None:
    body = f"Resources:\n  Deps:\n    Type: {layer_type}\n    Properties:\n      {content}\n"
    loaded = read(tmp_path, body + function("[!Ref Deps]"))
    [fn] = loaded.functions
    assert loaded.layers == [] and loaded.broken == []
    assert fn.descriptive.layers == (arn("Deps"),) and fn.layer_dirs == ()
    [said, again] = loaded.warnings
    assert said.startswith("Layer Deps: not served: Content")
    assert again.startswith("Function Fn: Layers: Deps is not mounted: Content")


# --- BuildMethod: the content as sam build leaves it --------------------------------------------


def built(tmp_path: Path, method: str, files: dict[str, str]) -> tuple[Template, Path]:
    body = "Resources:\n" + DEPS + f"    Metadata:\n      BuildMethod: {method}\n"
    template = write(tmp_path, body + function("[!Ref Deps]"), files)
    loaded = read_template(template, keep_broken=True)
    return loaded, loaded.layers[0].content_dir


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_build_method_python_puts_the_content_under_python(tmp_path: Path) -> None:
    files = {
        "deps/shared.py": "X = 1\n",
        "deps/pkg/__init__.py": "",
        "deps/requirements.txt": "requests\n",
        "deps/__pycache__/shared.cpython-312.pyc": "",
        "deps/.git/HEAD": "",
    }
    loaded, content = built(tmp_path, "python3.12", files)
    assert content.parent == tmp_path / ".keepwarm" / "inline" / ".layers" / "Deps"
    # sam build's PythonPipWorkflow leaves out caches and VCS directories
    assert tree(content) == [
        "python/pkg/__init__.py",
        "python/requirements.txt",
        "python/shared.py",
    ]
    assert loaded.functions[0].layer_dirs == (content,)
    assert loaded.warnings == []


def test_an_unchanged_layer_is_not_copied_again_and_a_changed_one_gets_a_new_copy(
    tmp_path: Path,
) -> None:
    _, first = built(tmp_path, "python3.12", {"deps/shared.py": "X = 1\n"})
    copied = (first / "python" / "shared.py").stat().st_ino
    _, again = built(tmp_path, "python3.12", {})
    assert again == first and (again / "python" / "shared.py").stat().st_ino == copied
    (tmp_path / "deps" / "shared.py").write_text("X = 2\n")
    _, changed = built(tmp_path, "python3.12", {})
    assert changed != first
    assert (changed / "python" / "shared.py").read_text() == "X = 2\n"
    assert (first / "python" / "shared.py").read_text() == "X = 1\n"  # what runs keeps its copy
    leftovers = [p.name for p in first.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no half-made copy


def test_build_method_nodejs_puts_the_content_under_nodejs(tmp_path: Path) -> None:
    files = {
        "deps/package.json": '{"dependencies": {"left-pad": "1.3.0"}}',
        "deps/node_modules/left-pad/index.js": "module.exports = 1;\n",
    }
    loaded, content = built(tmp_path, "nodejs20.x", files)
    assert tree(content) == ["nodejs/node_modules/left-pad/index.js", "nodejs/package.json"]
    assert loaded.warnings == []


def test_a_nodejs_layer_without_its_installed_dependencies_warns(tmp_path: Path) -> None:
    files = {"deps/package.json": '{"dependencies": {"left-pad": "1.3.0"}}'}
    loaded, _ = built(tmp_path, "nodejs20.x", files)
    assert loaded.warnings == [
        "Layer Deps: package.json lists dependencies and there is no node_modules: keepwarm "
        "runs no npm install (run it in ContentUri)."
    ]


@pytest.mark.parametrize(
    ("method", "warning"),
    [
        ("makefile", "BuildMethod makefile: keepwarm runs no make; ContentUri is used as is."),
        (
            "java21",
            "BuildMethod java21 is not emulated (python3.x and nodejs*.x are); "
            "ContentUri is used as is.",
        ),
    ],
)
def test_other_build_methods_warn_and_use_the_content_as_is(
    tmp_path: Path, method: str, warning: str
) -> None:
    loaded, content = built(tmp_path, method, {"deps/python/x.py": ""})
    assert content == (tmp_path / "deps").resolve()
    assert loaded.warnings == [f"Layer Deps: {warning}"]


def test_a_template_sam_build_wrote_is_not_built_again(tmp_path: Path) -> None:
    """``.aws-sam/build/template.yaml`` keeps the BuildMethod, its ContentUri is the build."""
    root = tmp_path / ".aws-sam" / "build"
    _, content = built(root, "python3.12", {"deps/python/shared.py": ""})
    assert content == (root / "deps").resolve()


def test_a_local_zip_is_unpacked(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/shared.py", "X = 1\n")
    (tmp_path / "deps.zip").write_bytes(buffer.getvalue())
    body = "Resources:\n" + DEPS.replace("deps/", "deps.zip")
    body += "    Metadata:\n      BuildMethod: python3.12\n"
    loaded = read(tmp_path, body + function("[!Ref Deps]"))
    [layer] = loaded.layers
    assert tree(layer.content_dir) == ["python/shared.py"]
    assert loaded.functions[0].layer_dirs == (layer.content_dir,)
    assert loaded.warnings == [
        "Layer Deps: BuildMethod python3.12 does not apply to a .zip; its content is used as is."
    ]


# --- errors: the functions using the layer cannot run -----------------------------------------


@pytest.mark.parametrize(
    ("properties", "files", "problem"),
    [
        ("{ContentUri: missing/}", {}, "ContentUri 'missing/' does not exist (looked for "),
        ("{ContentUri: notes.txt}", {"notes.txt": "x"}, "ContentUri 'notes.txt' is a file; a "),
        ("{Description: x}", {}, "ContentUri is required."),
        (
            "{ContentUri: deps/, LayerName: 'my layer'}",
            {"deps/x": ""},
            "1 validation error detected: Value 'my layer' at 'layerName' failed to satisfy ",
        ),
        (
            "{ContentUri: deps/, CompatibleArchitectures: [sparc]}",
            {"deps/x": ""},
            "CompatibleArchitectures needs to be a list of 'x86_64' or 'arm64'",
        ),
        (
            "{ContentUri: deps/, CompatibleRuntimes: [cobol9]}",
            {"deps/x": ""},
            "CompatibleRuntimes: 'cobol9' is not a Lambda runtime.",
        ),
    ],
)
def test_a_layer_the_template_gets_wrong_stops_only_the_functions_using_it(
    tmp_path: Path, properties: str, files: dict[str, str], problem: str
) -> None:
    body = "Resources:\n  Deps:\n    Type: AWS::Serverless::LayerVersion\n"
    body += f"    Properties: {properties}\n"
    loaded = read(tmp_path, body + function("[!Ref Deps]") + function("[]", "Other"), files)
    assert [f.name for f in loaded.functions] == ["Other"]
    [broken] = loaded.broken
    assert broken.name == "Fn"
    assert broken.reason.startswith(f"Layers: Deps cannot be used: {problem}")
    assert any(w.startswith(f"Layer Deps: not served: {problem}") for w in loaded.warnings)
    with pytest.raises(BadFunction, match="Layers: Deps cannot be used"):
        load_template(tmp_path / "template.yaml")


def others(count: int) -> str:
    """``count`` literal ARNs of distinct layers of another account, as a YAML list."""
    return "[" + ", ".join(OTHER.replace("elsewhere", f"other{n}") for n in range(count)) + "]"


def test_more_than_five_layers_with_the_templates_own_cannot_run(tmp_path: Path) -> None:
    body = f"Globals:\n  Function:\n    Layers: {others(5)}\nResources:\n" + DEPS
    [broken] = read(tmp_path, body + function("[!Ref Deps]"), {"deps/x": ""}).broken
    assert (broken.name, broken.reason) == ("Fn", "Cannot reference more than 5 layers.")


def test_one_layer_twice_cannot_run_as_lambda_refuses_it(tmp_path: Path) -> None:
    body = "Globals:\n  Function:\n    Layers: [!Ref Deps]\nResources:\n" + DEPS
    [broken] = read(tmp_path, body + function("[!Ref Deps]"), {"deps/x": ""}).broken
    assert broken.reason == (
        "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {arn('Deps')} and {arn('Deps')} are versions of the same layer."
    )


def test_two_layers_with_one_name_cannot_be_told_apart(tmp_path: Path) -> None:
    again = "  Again:\n    Type: AWS::Lambda::LayerVersion\n"
    again += "    Properties: {Content: deps/, LayerName: Deps}\n"
    body = "Resources:\n" + DEPS + again
    loaded = read(tmp_path, body + function("[!Ref Again]"), {"deps/x": ""})
    assert loaded.layers == []
    assert loaded.broken[0].reason.startswith("Layers: Deps and Again cannot be used: Deps, Again")


# --- end to end -------------------------------------------------------------------------------


def test_a_function_imports_a_module_from_its_local_layer(tmp_path: Path) -> None:
    """The SAM project this is for: its dependencies live in a layer of its own, built with
    BuildMethod python3.x, so the module is at /opt/python once built."""
    body = "Resources:\n" + DEPS + "    Metadata:\n      BuildMethod: python3.12\n"
    body += function("[!Ref Deps]")
    template = write(tmp_path, body, {"deps/shared_greeting.py": "GREETING = 'from the layer'\n"})
    (tmp_path / "src" / "app.py").write_text(
        "import shared_greeting\n"
        "def handler(event, context):\n"
        "    return shared_greeting.GREETING\n"
    )
    server = ServerConfig(data_dir=tmp_path / "data")
    with Runtime(template=template, server=server) as rt:
        result = rt.invoke("Fn")
    assert result.json() == "from the layer", result.payload


def test_a_built_python_layer_requirements_are_importable(tmp_path: Path) -> None:
    """``requirements.txt`` in a BuildMethod python3.x layer is what ``sam build`` would install
    into it: the server's package of that name is importable by the layer's functions only."""
    body = "Resources:\n" + DEPS + "    Metadata:\n      BuildMethod: python3.12\n"
    body += function("[!Ref Deps]") + function("[]", name="Bare")
    template = write(tmp_path, body, {"deps/requirements.txt": "PyYAML\n"})
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    import yaml\n    return yaml.safe_load('a: 1')\n"
    )
    with Runtime(template=template, server=ServerConfig(data_dir=tmp_path / "data")) as rt:
        assert rt.invoke("Fn").json() == {"a": 1}
        bare = json.loads(rt.invoke("Bare").payload)
    assert bare["errorType"] == "ModuleNotFoundError"
