"""GraphQL over HTTP, as the community's own audit (npm ``graphql-http``) checks it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from graph.sim import Simulator
from tests.e2e import SUNDAY_NOON_UTC, running_app

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.e2e, pytest.mark.npm]


async def test_graphql_http_audit_passes_with_no_warning(tmp_path: Path) -> None:
    """auditServer reports every audit ok: no error and no warning (responses to parse and
    validation failures under application/graphql-response+json carry no `data`)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "graphql-http").is_dir():
        pytest.fail("node and node_modules/graphql-http are needed: run `npm ci` (make test does)")
    async with (
        Simulator(clock=lambda: SUNDAY_NOON_UTC, tick_interval_s=None) as sim,
        running_app(sim, tmp_path) as (_, url),
    ):
        process = await asyncio.create_subprocess_exec(
            node,
            str(ROOT / "tests" / "clients" / "audit.mjs"),
            url + "/graphql",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["error"] == [] and report["warn"] == [], report
    assert report["ok"] >= 50
