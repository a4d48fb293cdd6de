import importlib.util

# Shared fixtures: the sandbox cluster, the tool server, the scripted LLM and account factories.
_PLUGINS = ("sandbox.testing", "mcp_server.testing", "tests.fixtures")
pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]
