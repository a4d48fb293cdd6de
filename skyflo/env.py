"""Small typed readers for environment variables.

Every reader fails at start with a message that names the variable, so a bad deployment stops before it serves.
"""

import ipaddress
import os
from urllib.parse import urlparse


class ConfigError(RuntimeError):
    """A configuration variable is missing or malformed."""


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if required:
        raise ConfigError(f"{name} must be set")
    return default


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name, "")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return items or list(default or [])


def env_networks(name: str) -> list:
    """A comma-separated list of IP addresses or networks (CIDR), as ipaddress networks."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks (CIDR); {item!r} is neither") from None
    return networks


def env_url(name: str, *, schemes: set[str], default: str | None = None) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        allowed = ", ".join(sorted(schemes))
        raise ConfigError(f"{name} must be a URL with scheme {allowed}, got {value!r}")
    return value


def env_json_object(name: str, default: dict | None = None) -> dict:
    """A JSON object, e.g. '{"X-Team": "ops"}'."""
    import json

    raw = os.environ.get(name, "").strip()
    if not raw:
        return dict(default or {})
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"{name} must be a JSON object, got {raw!r}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, got {raw!r}")
    return value


def env_choice(name: str, choices: set[str], default: str | None = None) -> str | None:
    value = env_str(name, default)
    if value is not None and value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(choices))}, got {value!r}")
    return value


def env_prices(name: str) -> dict[str, tuple[float, float]]:
    """Model prices as a JSON object {"model": [USD per 1M prompt tokens, USD per 1M completion tokens]}."""
    prices = {}
    for model, pair in env_json_object(name).items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, int | float) for p in pair)):
            raise ConfigError(f"{name}: the price of {model!r} must be [prompt, completion] USD per 1M tokens")
        prices[str(model)] = (float(pair[0]), float(pair[1]))
    return prices
