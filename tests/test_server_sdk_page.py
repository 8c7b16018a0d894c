"""The SDK page's routes and its bundle: ``GET /sdk`` with a policy allowing the app's own script, ``GET
/sdk.js`` the bundle, and the committed bundle exactly what ``web/build.mjs`` builds from ``web/src/page.js``
and the locked npm packages (``npm ci`` in ``web/``, which ``.ci/run`` does)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import streamflow.server
from streamflow.server import create_app
from streamflow.server.boundary import page_csp
from tests.server_support import load_example

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
STATIC = Path(streamflow.server.__file__).resolve().parent / "static"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    serve_agent = load_example("serve_agent")
    app = create_app({"agent": serve_agent.build_agent})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


async def test_the_sdk_page_allows_only_the_apps_own_script_and_its_inline_style(http: httpx.AsyncClient) -> None:
    page = await http.get("/sdk")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="sdk.js"></script>' in page.text
    csp = page.headers["content-security-policy"]
    assert csp == page_csp(page.text, script_files=True)
    assert "script-src 'self';" in csp and "style-src 'sha256-" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self'" in csp and page.headers["x-frame-options"] == "DENY"


async def test_the_sdk_script_is_the_bundle_in_the_package(http: httpx.AsyncClient) -> None:
    script = await http.get("/sdk.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.content == (STATIC / "sdk.js").read_bytes()
    assert script.headers["x-content-type-options"] == "nosniff"  # served as script, never sniffed


async def test_without_pages_neither_sdk_route_is_served() -> None:
    app = create_app({"agent": load_example("serve_agent").build_agent}, page=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        for path in ("/", "/sdk", "/sdk.js"):
            assert (await client.get(path)).status_code == 404, path


def test_the_page_is_written_against_the_sdk_version_speaking_the_thread_protocol() -> None:
    """The pinned ``@langchain/langgraph-sdk`` has the v3 thread transport (``/threads/{id}/commands`` and
    ``/stream/events``), and the lockfile holds exactly the versions ``package.json`` pins."""
    package = json.loads((WEB / "package.json").read_text())
    lock = json.loads((WEB / "package-lock.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is pinned to an exact version, not {version!r}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    source = (WEB / "src" / "page.js").read_text()
    assert 'from "@langchain/langgraph-sdk"' in source and "client.threads.stream(" in source
    bundle = (STATIC / "sdk.js").read_text()
    assert "/commands" in bundle and "/stream/events" in bundle


def test_the_committed_bundle_is_what_the_build_makes_of_its_source(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "esbuild").is_dir():
        if os.environ.get("CI"):
            raise RuntimeError("the SDK page's bundle needs node and web/node_modules; .ci/run runs npm ci in web/")
        pytest.skip("node or web/node_modules is missing (cd web && npm ci)")
    subprocess.run([node, str(WEB / "build.mjs"), str(tmp_path)], check=True, timeout=120)
    built = (tmp_path / "sdk.js").read_bytes()
    assert built == (STATIC / "sdk.js").read_bytes(), "streamflow/server/static/sdk.js is stale: run `make web`"
