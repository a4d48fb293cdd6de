"""/healthz, /readyz and /metrics as kubelet and Prometheus reach them: by the pod's IP (not an allowed host),
over plain http; /metrics only with the metrics token."""

import pytest

POD_HOST = "10.42.0.17:8000"
TOKEN = "metrics-token-for-the-test-0123456789"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_on_the_pod_ip(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(path, HTTP_HOST=POD_HOST)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_other_paths_still_refuse_a_foreign_host(client):
    response = client.get("/api/v1/auth/me/", HTTP_HOST=POD_HOST)

    assert response.status_code == 400


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = None

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything-at-all", HTTP_HOST=POD_HOST)

    assert response.status_code == 404
    assert b"skyflo_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", TOKEN, f"Basic {TOKEN}"])
def test_metrics_want_the_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = client.get("/metrics", HTTP_HOST=POD_HOST, **headers)

    assert response.status_code == 401
    assert b"skyflo_" not in response.content


@pytest.mark.django_db
def test_metrics_with_the_token(client, settings):
    settings.METRICS_TOKEN = TOKEN

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST=POD_HOST)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert "skyflo_approvals_pending 0.0" in text
    assert "# TYPE skyflo_runs_finished_total counter" in text
    assert "# TYPE skyflo_websockets_open gauge" in text
