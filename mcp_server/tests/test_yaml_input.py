"""Bounded YAML loading (mcp_server/yaml_input.py)."""

import pytest
import yaml

from mcp_server import yaml_input
from mcp_server.tests.test_findings_yaml import BOMB

SMALL_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b]\n"


def test_it_loads_ordinary_anchors():
    docs = yaml_input.load_all("base: &base {image: web}\nprod: *base\n---\nkind: ConfigMap\n")
    assert docs == [{"base": {"image": "web"}, "prod": {"image": "web"}}, {"kind": "ConfigMap"}]
    assert len(yaml_input.load_all(SMALL_BOMB)) == 1


@pytest.mark.parametrize(
    "text",
    [
        BOMB,
        "---\n".join([SMALL_BOMB] * 40),  # each document is small; together they are not
        "a: &a [*a]\n",
        "k: " + "v" * (yaml_input.MAX_INPUT_BYTES + 1),
    ],
)
def test_it_refuses_what_would_expand_without_bound(text):
    with pytest.raises(yaml_input.YamlRefused):
        yaml_input.load_all(text)


def test_it_refuses_deep_nesting():
    with pytest.raises((yaml_input.YamlRefused, yaml.YAMLError)):
        yaml_input.load_all("x: " + "[" * 5000 + "]" * 5000 + "\n")
