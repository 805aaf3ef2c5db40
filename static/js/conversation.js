// The conversation page: one WebSocket speaking the protocol of docs/protocol.md.
// The server sends JSON events (not HTML), so this small module renders them itself
// instead of htmx's ws extension, which swaps HTML fragments.

// Error codes meaning a text was refused and not stored.
const REFUSED_TEXT = new Set(["busy", "empty_text", "text_too_long", "conversation_ended", "not_started"]);

const root = document.querySelector("[data-conversation]");
if (root) start(root);

function start(root) {
  const transcript = root.querySelector("#transcript");
  const status = root.querySelector("#chat-status");
  const errorBox = root.querySelector("#chat-error");
  const errorText = errorBox.querySelector("[data-error-text]");
  const retryButton = errorBox.querySelector("[data-retry]");
  const form = root.querySelector("[data-chat-form]");
  const textarea = form?.querySelector("textarea");
  const sendButton = form?.querySelector("[data-send]");
  const stopButton = form?.querySelector("[data-stop]");
  const template = root.querySelector("#bubble-template");
  const selfName = root.querySelector(".chat__name").textContent.trim();

  let socket = null;
  let streaming = null; // {id, element, text} of the reply being streamed
  let unsent = null; // {element, text} of the person's message until the server takes it
  let ready = false;
  let retries = 0;

  if (root.dataset.status === "ended") return;

  function setStatus(text) {
    status.textContent = text;
  }

  function showError(message, retryable) {
    errorText.textContent = message;
    retryButton.hidden = !retryable;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
  }

  function setStreaming(value) {
    stopButton.hidden = !value;
  }

  function scrollToEnd() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function addBubble(role, text, id) {
    transcript.querySelector("[data-empty]")?.remove();
    const element = template.content.firstElementChild.cloneNode(true);
    element.classList.add(`bubble--${role}`);
    if (id) element.dataset.messageId = id;
    element.querySelector(".bubble__who").textContent = role === "user" ? "You" : selfName;
    element.querySelector(".bubble__text").textContent = text;
    transcript.append(element);
    scrollToEnd();
    return element;
  }

  function renderHistory(history) {
    transcript.replaceChildren();
    for (const message of history) {
      const element = addBubble(message.role, message.text, message.message_id);
      if (message.interrupted) element.classList.add("bubble--interrupted");
    }
  }

  function send(payload) {
    socket.send(JSON.stringify(payload));
  }

  const handlers = {
    ready(event) {
      ready = true;
      retries = 0;
      renderHistory(event.history);
      sendButton.disabled = false;
      setStatus(event.awaiting_reply ? "Your last message has no reply yet." : "Connected.");
      if (event.awaiting_reply) showError("Your last message was not answered.", true);
    },
    "reply.start"(event) {
      unsent = null;
      const element = addBubble("future_self", "", event.message_id);
      element.classList.add("bubble--streaming");
      element.setAttribute("aria-busy", "true");
      streaming = { id: event.message_id, element, text: "" };
      setStreaming(true);
      setStatus(`${selfName} is answering…`);
    },
    "reply.delta"(event) {
      if (!streaming) return;
      streaming.text += event.text;
      streaming.element.querySelector(".bubble__text").textContent = streaming.text;
      scrollToEnd();
    },
    "reply.end"(event) {
      const element = streaming?.id === event.message_id ? streaming.element : addBubble("future_self", "", event.message_id);
      element.querySelector(".bubble__text").textContent = event.text;
      element.classList.remove("bubble--streaming");
      element.classList.toggle("bubble--interrupted", event.interrupted);
      element.removeAttribute("aria-busy");
      streaming = null;
      setStreaming(false);
      setStatus(event.interrupted ? "Interrupted." : "");
    },
    error(event) {
      // Refused before it was saved: take the bubble back and give the text back to edit.
      if (unsent && REFUSED_TEXT.has(event.code)) {
        unsent.element.remove();
        textarea.value = unsent.text;
        unsent = null;
      }
      if (event.message_id && streaming?.id === event.message_id) {
        streaming.element.remove();
        streaming = null;
        setStreaming(false);
      }
      showError(event.message, event.retryable && event.code !== "busy");
      setStatus("");
    },
    ended() {
      window.location.reload();
    },
  };

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}${root.dataset.streamPath}`);
    socket.addEventListener("open", () => {
      setStatus("Connecting…");
      send({ type: "start", conversation_id: root.dataset.conversationId, output_audio: "none" });
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      handlers[event.type]?.(event);
    });
    socket.addEventListener("close", (event) => {
      ready = false;
      sendButton.disabled = true;
      if (streaming) handlers["reply.end"]({ message_id: streaming.id, text: streaming.text, interrupted: true });
      if (event.code === 4401 || event.code === 4404) {
        showError("This conversation is not available to you. Try signing in again.", false);
        return;
      }
      if (event.code === 1000) return;
      // Reconnect with a growing pause: the history comes back with "ready".
      const delay = Math.min(1000 * 2 ** retries, 15000);
      retries += 1;
      setStatus("Connection lost. Reconnecting…");
      window.setTimeout(connect, delay);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!ready || !text) return;
    if (text.length > Number(root.dataset.maxChars)) {
      showError(`Please keep a message under ${root.dataset.maxChars} characters.`, false);
      return;
    }
    clearError();
    // Typing while they speak interrupts them, as it would in person.
    if (streaming) send({ type: "interrupt" });
    unsent = { element: addBubble("user", text), text };
    send({ type: "text", text });
    textarea.value = "";
    textarea.focus();
  });

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stopButton.addEventListener("click", () => send({ type: "interrupt" }));
  retryButton.addEventListener("click", () => {
    clearError();
    send({ type: "retry" });
  });

  connect();
}
