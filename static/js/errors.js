// Shows a refused htmx request (429 rate limit or daily allowance, and other errors the
// server explains in plain text) in the page's alert region, since htmx swaps 2xx answers only.
const region = () => document.getElementById("request-alert");

document.body.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  const box = region();
  if (!box || !xhr) return;
  const type = xhr.getResponseHeader("Content-Type") || "";
  let text = "Something went wrong. Nothing you wrote is lost: please try again.";
  if (type.startsWith("text/plain") && xhr.responseText) {
    text = xhr.responseText;
  } else if (type.startsWith("application/json")) {
    try {
      text = JSON.parse(xhr.responseText).detail || text;
    } catch (_) {
      // keep the generic text
    }
  }
  const retryAfter = Number(xhr.getResponseHeader("Retry-After"));
  if (xhr.status === 429 && retryAfter > 0 && retryAfter < 3600) {
    text += ` (You can try again in ${retryAfter} s.)`;
  }
  box.textContent = text;
  box.hidden = false;
});

document.body.addEventListener("htmx:beforeRequest", () => {
  const box = region();
  if (box) box.hidden = true;
});
