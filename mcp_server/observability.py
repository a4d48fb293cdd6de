"""Routes around the MCP app that operators use: `GET /readyz` (open, like /healthz) and, later, `/metrics`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def _binaries_found(environ: Mapping[str, str]) -> dict[str, bool]:
    path = environ.get("PATH", os.defpath)
    return {tool: shutil.which(tool, path=path) is not None for tool in ("kubectl", "helm")}


class OperatorRoutes:
    """Serves /readyz itself and hands every other request to `app`."""

    def __init__(self, app: ASGIApp, *, environ: Mapping[str, str]) -> None:
        self.app = app
        self.environ = environ

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/readyz" and scope["method"] == "GET":
            checks = _binaries_found(self.environ)
            ready = all(checks.values())
            body = {"status": "ok" if ready else "unavailable", "checks": checks}
            await JSONResponse(body, status_code=200 if ready else 503)(scope, receive, send)
            return
        await self.app(scope, receive, send)
