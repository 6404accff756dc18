// JSON over fetch with the session cookie, and Django's CSRF token on writes.

export class ApiError extends Error {
  constructor(message, status, data = null) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

export function csrfToken() {
  const cookie = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export async function api(method, path, body = undefined) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check your connection.", 0);
  }
  const loginPage = response.redirected && new URL(response.url).pathname.startsWith("/accounts/login");
  if (loginPage || response.status === 401) {
    // The session ended: go and log in again, then come back here.
    window.location.assign(`/accounts/login/?next=${encodeURIComponent(window.location.pathname)}`);
    throw new ApiError("Please log in again.", 401);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && typeof data.error === "string" && data.error) || `Request failed (${response.status})`;
    throw new ApiError(message, response.status, data);
  }
  return data;
}
