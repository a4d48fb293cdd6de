import importlib.util

# Shared fixtures: the sandbox cluster, the tool server, accounts, the scripted LLM and live processes.
_PLUGINS = (
    "sandbox.testing",
    "mcp_server.testing",
    "tests.accounts",
    "tests.llm",
    "tests.live",
    "tests.third_party_mcp",
    "tests.slack_api",
)
pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]
