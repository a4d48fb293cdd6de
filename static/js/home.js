// Start a conversation: create it through the API, post the first message, open it.
import { api } from "./api.js";

const form = document.getElementById("new-conversation");
if (form) {
  const clusters = JSON.parse(document.getElementById("clusters-data").textContent);
  const clusterSelect = form.elements.cluster;
  const namespace = form.elements.namespace;
  const datalist = document.getElementById("nc-namespaces");
  const error = document.getElementById("nc-error");
  const content = form.elements.content;

  const syncNamespaces = () => {
    const cluster = clusters.find((c) => c.id === clusterSelect.value);
    if (!cluster) return;
    namespace.value = cluster.default_namespace;
    datalist.replaceChildren(...cluster.namespaces.map((ns) => Object.assign(document.createElement("option"), { value: ns })));
  };
  clusterSelect.addEventListener("change", syncNamespaces);
  syncNamespaces();

  content.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = content.value.trim();
    if (!text) { content.focus(); return; }
    const cluster = clusters.find((c) => c.id === clusterSelect.value);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    error.hidden = true;
    try {
      const conversation = await api("POST", "/api/v1/conversations/", {
        org: cluster.org, cluster: cluster.id, namespace: namespace.value.trim(), title: text.slice(0, 80),
      });
      await api("POST", `/api/v1/conversations/${conversation.id}/messages/`, { content: text });
      window.location.assign(`/c/${conversation.id}/`);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      button.disabled = false;
    }
  });
}
