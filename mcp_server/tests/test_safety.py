"""Argument validation and flag refusal (mcp_server/safety.py)."""

import pytest

from mcp_server.safety import UnsafeArgument, refuse_flags_in_all, validate, validate_key_values, validate_set_values


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("name", "web"),
        ("name", "web-1.example"),
        ("name", "system:controller:foo"),
        ("namespace", "shop"),
        ("kind", "deployments.apps"),
        ("kind", "Deployment"),
        ("kind", "pods,services"),
        ("selector", "app=web,tier!=cache"),
        ("selector", "env in (prod, stage),!canary"),
        ("image", "nginx:1.27"),
        ("image", "ghcr.io/org/app@sha256:abc123"),
        ("release", "my-release"),
        ("chart", "oci://registry.example/charts/web"),
        ("chart", "bitnami/nginx"),
        ("container", "web"),
    ],
)
def test_it_accepts_valid_values(kind, value):
    assert validate(kind, "arg", value) == value


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("name", "web --server=http://evil"),
        ("name", "-web"),
        ("name", "Web"),
        ("name", "web;ls"),
        ("namespace", "a;rm -rf /"),
        ("namespace", "a" * 64),
        ("kind", "pods --kubeconfig=/x"),
        ("selector", "app=web --as=admin"),
        ("selector", "$(id)"),
        ("image", "nginx --kubeconfig=/x"),
        ("image", "nginx;id"),
        ("release", "rel --post-renderer=/bin/sh"),
        ("chart", "--repo=https://x"),
        ("container", "c -s http://x"),
    ],
)
def test_it_refuses_invalid_or_smuggled_values(kind, value):
    with pytest.raises(UnsafeArgument):
        validate(kind, "arg", value)


@pytest.mark.parametrize(
    "flag",
    [
        "--server=x",
        "-s x",
        "--token abc",
        "--as=system:admin",
        "--as-group=x",
        "--insecure-skip-tls-verify",
        "--kube-context=x",
        "--post-renderer=./x",
        "--certificate-authority=/x",
        "--username=u",
        "--password=p",
    ],
)
def test_it_refuses_dangerous_flags_inside_values(flag):
    with pytest.raises(UnsafeArgument, match="not allowed"):
        refuse_flags_in_all({"values": {"nested": [f"ok {flag}"]}})
    with pytest.raises(UnsafeArgument):
        validate_set_values("set_values", {"image.tag": f"1.0 {flag}"})


def test_it_keeps_harmless_dashes():
    refuse_flags_in_all({"annotation": "use-as-needed --server-side --dry-run=server"})


def test_it_builds_label_pairs_and_removals():
    assert validate_key_values("labels", {"app": "web", "team": None}, value_kind="label_value") == [
        "app=web",
        "team-",
    ]
    with pytest.raises(UnsafeArgument):
        validate_key_values("labels", {"app": "web --as=x"}, value_kind="label_value")
