"""The OpenAPI schema is served, and every orgs endpoint in it has typed request and response bodies."""

import pytest
import yaml

from tests.accounts import bearer_client, make_user

WRITE = {"post", "put", "patch"}


@pytest.fixture
def schema(db):
    response = bearer_client(make_user()).get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_it_serves_the_schema_with_every_orgs_path(schema):
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/register/",
        "/api/v1/orgs/{slug}/clusters/{cluster_id}/grants/",
        "/api/v1/orgs/{slug}/audit/",
    ):
        assert path in paths
    assert all(path.endswith("/") for path in paths)


def test_it_types_request_and_response_bodies(schema):
    for path, operations in schema["paths"].items():
        if not path.startswith(("/api/v1/auth/", "/api/v1/orgs/", "/api/v1/invitations/")):
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if method in WRITE and "accept" not in path:
                assert "$ref" in str(operation["requestBody"]), (method, path)
            for code, response in operation["responses"].items():
                if code != "204":
                    assert "$ref" in str(response["content"]), (method, path, code)


def test_it_never_documents_the_cluster_token_as_readable(schema):
    components = schema["components"]["schemas"]
    assert "mcp_server_token" not in components["ClusterOutput"]["properties"]
    assert components["ClusterOutput"]["properties"]["has_token"]["type"] == "boolean"
    assert "mcp_server_token" in components["ClusterInputRequest"]["properties"]


def test_it_never_documents_the_model_key_as_readable(schema):
    components = schema["components"]["schemas"]
    assert "api_key" not in components["ModelConnectionOutput"]["properties"]
    assert "api_key" in components["ModelConnectionInputRequest"]["properties"]


def test_it_renders_the_docs_page(db):
    response = bearer_client(make_user()).get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
