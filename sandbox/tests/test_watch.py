"""Watches: `kubectl get -w` and the raw newline-delimited JSON stream with resourceVersion replay."""

import http.client
import json
import queue
import subprocess
import threading
import urllib.parse

from sandbox.tests.manifests import as_input, configmap


def _lines(stream, sink: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        sink.put(line)


def _wait_for(sink: queue.Queue, text: str, timeout: float = 15) -> list[str]:
    seen = []
    while True:
        line = sink.get(timeout=timeout)
        seen.append(line)
        if text in line:
            return seen


def test_it_streams_changes_to_kubectl_get_watch(sandbox_cluster, k8s_namespace):
    proc = subprocess.Popen(
        ["kubectl", "get", "configmaps", "-n", k8s_namespace, "-w", "--output-watch-events"],
        env=sandbox_cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sink: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, sink), daemon=True).start()
    try:
        sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(configmap(k8s_namespace, "watched", {"a": "1"})))
        added = _wait_for(sink, "watched")
        sandbox_cluster.kubectl("delete", "configmap", "watched", "-n", k8s_namespace)
        deleted = _wait_for(sink, "DELETED")
    finally:
        proc.kill()
        proc.wait()

    assert added[-1].split()[:2] == ["ADDED", "watched"]
    assert deleted[-1].split()[:2] == ["DELETED", "watched"]


def test_it_replays_events_after_a_resource_version(sandbox_cluster, k8s_namespace):
    listed = sandbox_cluster.request("GET", f"/api/v1/namespaces/{k8s_namespace}/configmaps")
    since = listed["metadata"]["resourceVersion"]
    assert listed["kind"] == "ConfigMapList"
    sandbox_cluster.kubectl("apply", "-f", "-", input=as_input(configmap(k8s_namespace, "one", {"a": "1"})))
    sandbox_cluster.kubectl("label", "configmap", "one", "x=y", "-n", k8s_namespace)

    url = urllib.parse.urlsplit(sandbox_cluster.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request(
        "GET", f"/api/v1/namespaces/{k8s_namespace}/configmaps?watch=true&resourceVersion={since}&timeoutSeconds=1"
    )
    response = conn.getresponse()
    events = [json.loads(line) for line in response.read().decode().splitlines()]
    conn.close()

    assert response.status == 200
    assert [
        (e["type"], e["object"]["metadata"]["name"]) for e in events if e["object"]["metadata"]["name"] == "one"
    ] == [
        ("ADDED", "one"),
        ("MODIFIED", "one"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert versions[0] > int(since)
