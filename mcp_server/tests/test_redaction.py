"""Redaction of secrets from every kind of output (mcp_server/redaction.py)."""

import base64
import json

import yaml

from mcp_server.redaction import MASK, Redactor
from mcp_server.runner import cap_output

CANARY = "canary-Zq7x-s3cr3t"
CANARY_B64 = base64.b64encode(CANARY.encode()).decode()
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": CANARY_B64}}


def test_it_masks_secret_data_in_yaml_and_json():
    redactor = Redactor()
    as_yaml = redactor.redact(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [SECRET]}))
    as_json = redactor.redact(json.dumps(SECRET, indent=2))
    for text in (as_yaml, as_json):
        assert CANARY_B64 not in text
        assert MASK in text


def test_it_masks_the_last_applied_annotation():
    annotated = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(SECRET)}},
    }
    redactor = Redactor()
    assert CANARY_B64 not in redactor.redact(yaml.safe_dump(annotated))
    describe = f"Annotations:  kubectl.kubernetes.io/last-applied-configuration:\n    {json.dumps(SECRET)}\n"
    assert CANARY_B64 not in Redactor().redact(describe)


def test_it_remembers_seen_values_and_scrubs_them_from_logs():
    redactor = Redactor()
    redactor.redact(json.dumps(SECRET))
    assert redactor.redact_line(f"connecting with {CANARY}") == f"connecting with {MASK}"


def test_it_masks_tokens_keys_and_password_like_values():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    text = f"Authorization: Bearer abc.def\ntoken={jwt}\n{key}\nadminPassword: hunter22\n--set db.password=hunter33"
    redacted = Redactor().redact(text)
    for secret in ("abc.def", jwt, "MIIEow", "hunter22", "hunter33"):
        assert secret not in redacted


def test_it_masks_helm_values_by_key():
    values = {"image": {"tag": "1.0"}, "auth": {"rootPassword": "pw1", "apiKey": "k1", "existingSecret": "s"}}
    redacted = Redactor().redact_object(values, helm_values=True)
    assert redacted["image"]["tag"] == "1.0"
    assert redacted["auth"] == {"rootPassword": MASK, "apiKey": MASK, "existingSecret": MASK}


def test_it_caps_output_with_a_marker():
    text, truncated = cap_output("x" * 70_000)
    assert truncated
    assert text.endswith("\n… [output truncated: 4464 bytes omitted]")


def test_it_streams_nothing_of_a_private_key_or_a_multi_line_secret():
    scrub = Redactor().stream()
    lines = ["-----BEGIN EC PRIVATE KEY-----", "bodyline1", "bodyline2", "-----END EC PRIVATE KEY-----"]
    lines += ["token: |", "  multi-1", "  multi-2", "next: visible"]
    shown = [scrub(line) for line in lines]
    assert shown[1:3] == [None, None]
    assert shown[5:7] == ["  " + MASK, "  " + MASK]
    assert shown[7] == "next: visible"


def test_it_masks_secret_env_values_in_yaml_json_and_describe():
    yaml_env = "    env:\n    - name: DB_PASSWORD\n      value: pw-one-1234\n    - name: MODE\n      value: fast\n"
    json_env = '{\n  "name": "API_TOKEN",\n  "value": "pw-two-1234"\n}'
    describe = "    Environment:\n      SIGNING_KEY:  pw-three-1234\n      MODE:  fast\n"
    redacted = Redactor().redact(yaml_env + json_env[1:-1] + describe, complete=False)
    assert "pw-" not in redacted
    assert "fast" in redacted


def test_it_masks_every_data_block_of_a_cut_output():
    text = json.dumps({"kind": "List", "items": [{"kind": "ConfigMapX", "data": {"k": CANARY_B64}}]}, indent=2)
    redacted = Redactor().redact(text[:-20], complete=False)
    assert CANARY_B64 not in redacted
    assert '"k": "***REDACTED***"' in redacted


def test_it_remembers_only_for_its_own_call_and_never_numbers():
    first, second = Redactor(), Redactor()
    first.redact(json.dumps({**SECRET, "data": {"a": CANARY_B64, "b": "MTIzNDU2Nzg5"}}))
    assert first.redact_line(f"{CANARY} 123456789") == f"{MASK} 123456789"
    assert second.redact_line(CANARY) == CANARY


def test_it_masks_url_credentials():
    assert Redactor().redact_line("dsn=postgres://app:pw@db:5432/x redis://:pw2@r") == (
        f"dsn=postgres://app:{MASK}@db:5432/x redis://:{MASK}@r"
    )


def test_it_masks_a_secret_looking_key_of_described_configmap_data():
    described = "Data\n====\ndb_password:\n----\npw-line-1\npw-line-2\n\nmode:\n----\nfast\n"
    scrub = Redactor().stream()
    streamed = [scrub(line) for line in described.split("\n")]
    for text in (Redactor().redact(described), "\n".join(streamed)):
        assert "pw-line" not in text
        assert "mode:\n----\nfast" in text
