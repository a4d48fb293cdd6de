"""What the browser tests share: the scripted scale run, asking in the composer, the last run's section."""

from tests.scripted_llm import call, plan, say, verdict

ASK = "scale web in shop to 3 replicas"
ANSWER = "Scaled **web** in `shop` to 3 replicas; all 3 are ready."
XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script>"


def scale_script(ns: str, answer: str = ANSWER) -> list[dict]:
    return [
        plan([("Scale deployment web to 3 replicas", "k8s_scale"), ("Wait for the rollout", "k8s_rollout_status")]),
        call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}),
        call("k8s_rollout_status", {"kind": "deployment", "name": "web", "namespace": ns}),
        call("k8s_get", {"kind": "deployment", "name": "web", "namespace": ns}, agent="verifier"),
        verdict(True, "web has 3 ready replicas"),
        say(answer, agent="responder"),
    ]


def ask(page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def run_section(page):
    return page.locator("section.run").last
