// The interview's answer box: Enter sends, Shift+Enter adds a line, and the
// person's words appear in the transcript at once while the interviewer thinks.

document.addEventListener("keydown", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLTextAreaElement) || !box.hasAttribute("data-enter-sends")) return;
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  if (box.value.trim()) box.form.querySelector("[type=submit]").click();
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-answer-form")) return;
  const text = form.elements.message.value.trim();
  const transcript = document.getElementById("transcript");
  if (!text || !transcript) return;
  const item = document.createElement("li");
  item.className = "bubble bubble--user bubble--sending";
  const who = document.createElement("span");
  who.className = "bubble__who";
  who.textContent = "You";
  const body = document.createElement("div");
  body.className = "bubble__text";
  body.textContent = text;
  item.append(who, body);
  transcript.append(item);
  item.scrollIntoView({ block: "nearest" });
});

document.addEventListener("htmx:afterSwap", () => {
  const transcript = document.getElementById("transcript");
  const last = transcript && transcript.lastElementChild;
  if (last) last.scrollIntoView({ block: "nearest" });
});
