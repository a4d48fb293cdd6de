// Small enhancements for server-rendered forms: cluster "test connection" and select-on-focus secrets.
import { api } from "./api.js";

for (const button of document.querySelectorAll("[data-cluster-test]")) {
  button.addEventListener("click", async () => {
    const out = document.getElementById(button.getAttribute("aria-describedby"));
    button.disabled = true;
    out.textContent = "Connecting…";
    out.className = "test-result muted";
    try {
      const result = await api("POST", button.dataset.clusterTest);
      if (result.ok) {
        out.textContent = `Connected: ${result.tools.length} tools (${result.tools.slice(0, 6).join(", ")}${result.tools.length > 6 ? ", …" : ""})`;
        out.className = "test-result pill pill-ok";
      } else {
        out.textContent = `Could not connect: ${result.detail}`;
        out.className = "test-result pill pill-err";
      }
    } catch (error) {
      out.textContent = error.message;
      out.className = "test-result pill pill-err";
    } finally {
      button.disabled = false;
    }
  });
}

for (const button of document.querySelectorAll("[data-model-test]")) {
  button.addEventListener("click", async () => {
    const out = document.getElementById(button.getAttribute("aria-describedby"));
    button.disabled = true;
    out.textContent = "Connecting…";
    out.className = "test-result muted";
    try {
      const result = await api("POST", button.dataset.modelTest);
      const supports = ["streaming", "tools", "json_schema"].map((name) => `${name} ${result[name] ? "yes" : "no"}`);
      out.textContent = result.ok ? `${result.detail} Supports: ${supports.join(", ")}.` : `Could not connect: ${result.detail}`;
      out.className = `test-result pill ${result.ok ? "pill-ok" : "pill-err"}`;
    } catch (error) {
      out.textContent = error.message;
      out.className = "test-result pill pill-err";
    } finally {
      button.disabled = false;
    }
  });
}

for (const input of document.querySelectorAll("[data-select-on-focus]")) {
  input.addEventListener("focus", () => input.select());
}
