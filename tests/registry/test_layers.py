"""A template's layers in the registry (registry.layers): version 1 of their name, listed and
read like published ones, run from the template's directory itself; and what a function naming
one gets (``FunctionSpec.layer_dirs``), checked on the registry's own records. The service runs
on a real runtime and SQLite store; a template's layers come from ``Template.layers`` (the
template reader's), registered at start and at each reload."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import textwrap
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from keepwarm import AsyncRuntime, ServerConfig
from keepwarm.config import LayerConfig
from keepwarm.errors import InvalidParameterValue, ResourceNotFound
from keepwarm.registry.code import UNZIPPED_LIMIT, directory_digest, hex_digest
from keepwarm.registry.service import FunctionService
from keepwarm.registry.store import FunctionStore
from tests.lambda_api.kw_server import COUNTER, ROLE, Server, make_zip

ARN = "arn:aws:lambda:us-east-1:000000000000:layer"
BASE = "http://kw.test"


def _layer_dir(root: Path) -> Path:
    folder = root / "layer"
    (folder / "python").mkdir(parents=True)
    (folder / "python" / "shared.py").write_text("GREETING = 'hi'\n")
    return folder


def _create_body(name: str, layers: list[str]) -> dict[str, Any]:
    package = base64.b64encode(make_zip({"app.py": COUNTER})).decode()
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": package},
        "Layers": layers,
    }


def _run(server: ServerConfig, body: Callable[[FunctionService], Any]) -> Any:
    """``body(service)`` on a started service whose store is in ``server``'s data dir."""

    async def main() -> Any:
        async with AsyncRuntime(server=server) as runtime:
            service = FunctionService(runtime, FunctionStore(server.data_dir / "registry.db"))
            try:
                return await body(service)
            finally:
                await service.close()

    return asyncio.run(main())


def test_a_template_layer_is_version_1_of_its_name(server: ServerConfig, tmp_path: Path) -> None:
    folder = _layer_dir(tmp_path)
    config = LayerConfig(
        name="tpl", content_dir=folder, description="from the template", license_info="MIT"
    )

    async def body(service: FunctionService) -> None:
        await service.load([], layers=[config])
        layers = service.layers
        got = layers.get("tpl", "1", BASE)
        sha, size = directory_digest(folder.resolve(), server.data_dir)
        assert (got["Version"], got["LayerVersionArn"]) == (1, f"{ARN}:tpl:1")
        assert got["Content"]["CodeSha256"] == sha and got["Content"]["CodeSize"] == size
        assert got["Content"]["Location"] == f"{BASE}/_keepwarm/layers/tpl/{hex_digest(sha)}.zip"
        assert (got["Description"], got["LicenseInfo"]) == ("from the template", "MIT")
        assert "CompatibleRuntimes" not in got  # the template gives none
        listed = layers.list_layers(None, None, None, None)["Layers"]
        assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in listed] == [
            ("tpl", 1)
        ]
        package = await layers.content_zip("tpl", f"{hex_digest(sha)}.zip")
        assert isinstance(package, bytes)  # the directory, zipped on request
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            assert archive.read("python/shared.py") == b"GREETING = 'hi'\n"

        created = await service.create(_create_body("uses", [f"{ARN}:tpl:1"]))
        assert created["Layers"] == [{"Arn": f"{ARN}:tpl:1", "CodeSize": size}]
        spec = service.records["uses"].latest
        assert spec.layer_dirs == (str(folder.resolve()),)  # live: the template's own directory
        assert spec.to_config(None).layer_dirs == (folder.resolve(),)

        zipped = base64.b64encode(make_zip({"python/more.py": ""})).decode()
        published = await layers.publish("tpl", {"Content": {"ZipFile": zipped}}, BASE)
        assert published["Version"] == 2  # the API's versions of a template layer follow it
        await layers.delete("tpl", "1")
        with pytest.raises(ResourceNotFound):
            layers.get("tpl", "1", BASE)
        assert [
            v["Version"]
            for v in layers.list_versions("tpl", None, None, None, None)["LayerVersions"]
        ] == [2]
        created_date = got["CreatedDate"]
        await layers.set_template([config])  # the template read again (a reload) brings it back
        assert layers.get("tpl", "1", BASE)["CreatedDate"] == created_date  # unchanged content

    _run(server, body)


def test_code_and_layers_together_stay_within_250_mb(server: ServerConfig, tmp_path: Path) -> None:
    """Lambda's bound is on the function's code and its layers unzipped, together: a layer
    that fills it alone leaves no room for any code (a sparse file: nothing is written)."""
    folder = tmp_path / "big"
    folder.mkdir()
    with open(folder / "blob", "wb") as blob:
        blob.truncate(UNZIPPED_LIMIT)

    async def body(service: FunctionService) -> None:
        await service.load([], layers=[LayerConfig(name="big", content_dir=folder)])
        with pytest.raises(InvalidParameterValue) as refused:
            await service.create(_create_body("toobig", [f"{ARN}:big:1"]))
        code_size = len(COUNTER.encode())
        assert refused.value.message == (
            "Function code combined with layers exceeds the maximum allowed size of 262144000 "
            f"bytes. The actual size is {UNZIPPED_LIMIT + code_size} bytes."
        )
        assert "toobig" not in service.records

    _run(server, body)
    assert os.stat(folder / "blob").st_blocks == 0


TEMPLATE = """
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: tpl-layer
      ContentUri: layer/
      CompatibleRuntimes: [python3.12]
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
"""


def test_serve_lists_a_template_layer(start_server: Callable[..., Server], tmp_path: Path) -> None:
    _layer_dir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(COUNTER)
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    lam = start_server("--template", str(tmp_path / "template.yaml")).client()
    listed = lam.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in listed] == [
        ("tpl-layer", 1)
    ]
    got = lam.get_layer_version(LayerName="tpl-layer", VersionNumber=1)
    with urllib.request.urlopen(got["Content"]["Location"], timeout=30) as resp:
        package = resp.read()
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert archive.read("python/shared.py") == b"GREETING = 'hi'\n"


NAMES_PUBLISHED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Layers: [arn:aws:lambda:us-east-1:000000000000:layer:published:1]
"""


def test_a_template_function_gets_a_layer_published_through_the_api(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """The template names it by ARN, which the template reader cannot resolve: the registry
    does, at the next start (a deploy after the layer exists)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    import shared\n    return shared.WHO\n"
    )
    (tmp_path / "template.yaml").write_text(NAMES_PUBLISHED)
    data = tmp_path / "data"
    first = start_server("--template", str(tmp_path / "template.yaml"), data_dir=data)
    first.client().publish_layer_version(
        LayerName="published", Content={"ZipFile": make_zip({"python/shared.py": "WHO = 7\n"})}
    )
    first.stop()
    second = start_server("--template", str(tmp_path / "template.yaml"), data_dir=data)
    out = second.client().invoke(FunctionName="fn")
    assert "FunctionError" not in out and out["Payload"].read() == b"7"
