// JSON API calls with the browser session and the CSRF header (DESIGN.md "HTTP API").
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
  }
  static describe(status, body) {
    if (body && typeof body === "object") {
      const parts = [];
      for (const [key, value] of Object.entries(body)) {
        const text = Array.isArray(value) ? value.join(" ") : String(value);
        parts.push(key === "detail" || key === "non_field_errors" ? text : `${key}: ${text}`);
      }
      if (parts.length) return parts.join(" ");
    }
    return `Request failed (${status}).`;
  }
}

export async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") init.headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text.slice(0, 200) }; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
