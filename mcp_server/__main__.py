"""`python -m mcp_server [--stdio | --host H --port P [--port-file PATH]]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from mcp_server.config import ConfigError, config_from_env
from mcp_server.in_cluster import use_in_cluster_config
from mcp_server.observability import logging_configure, tracing_configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description="Skyflo Kubernetes MCP tool server")
    parser.add_argument("--stdio", action="store_true", help="serve MCP over stdin/stdout")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port (see --port-file)")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--metrics-port", type=int, help="serve /metrics on this port (on --host) instead of --port")
    args = parser.parse_args(argv)
    json_logs = logging_configure(os.environ)
    tracing_configure(os.environ)
    try:
        use_in_cluster_config(os.environ)
        config = config_from_env()
        if not args.stdio and not config.token:
            raise ConfigError("MCP_SERVER_TOKEN must be set to serve over HTTP")
    except ConfigError as exc:
        print(f"mcp_server: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.stdio:
        from mcp_server.server import build_server

        build_server(config).run("stdio")
        return 0
    asyncio.run(_serve_http(config, args, json_logs))
    return 0


async def _serve_http(config, args: argparse.Namespace, json_logs: bool) -> None:
    import uvicorn

    from mcp_server.observability import OperatorRoutes, metrics_app
    from mcp_server.server import build_http_app

    host, port, port_file = args.host, args.port, args.port_file
    separate = args.metrics_port is not None
    app = OperatorRoutes(build_http_app(config), environ=config.env, metrics=not separate)
    # With JSON logs uvicorn keeps no handlers of its own: its lines go through the root logger's.
    options = {"log_level": "warning", **({"log_config": None} if json_logs else {})}
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    if separate:
        metrics = uvicorn.Server(uvicorn.Config(metrics_app(config.env), host=host, port=args.metrics_port, **options))
        metrics_serving = asyncio.create_task(metrics.serve())
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()[1]
        if json_logs:
            logging.getLogger("mcp_server").info("mcp_server listening on http://%s:%s/mcp", host, bound)
        else:
            print(f"mcp_server listening on http://{host}:{bound}/mcp", flush=True)
        if port_file is not None:
            tmp = port_file.with_suffix(".tmp")
            tmp.write_text(str(bound))
            tmp.replace(port_file)
    await serving
    if separate:
        metrics.should_exit = True
        await metrics_serving


if __name__ == "__main__":
    sys.exit(main())
