// The conversation page: one WebSocket speaking the protocol of docs/protocol.md.
// The server sends JSON events (not HTML), so this small module renders them itself
// instead of htmx's ws extension, which swaps HTML fragments.

// Voice: hold-to-talk (button or space bar) captures 16 kHz PCM with an AudioWorklet
// (static/js/audio-capture-worklet.js) and streams it as binary frames; the reply's
// audio is played as it arrives (Web Audio for PCM, MediaSource for MP3).

// Error codes meaning a text was refused and not stored.
const REFUSED_TEXT = new Set([
  "busy",
  "empty_text",
  "text_too_long",
  "conversation_ended",
  "not_started",
  "rate_limited",
  "budget_exceeded",
]);


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
  const voiceBox = root.querySelector("[data-voice]");
  const talkButton = root.querySelector("[data-talk]");
  const talkLabel = root.querySelector("[data-talk-label]");
  const levelMeter = root.querySelector("[data-level]");
  const voiceNote = root.querySelector("[data-voice-note]");
  const safetyTemplate = root.querySelector("#safety-template");
  const player = new ReplyPlayer();
  let recorder = null; // the Recorder once the microphone is granted
  let talking = false;
  let voiceInput = false;

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
      setupVoice(event);
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
      if (event.interrupted) player.stop();
      else player.end();
    },
    error(event) {
      const message = event.message || event.detail || "Something went wrong.";
      if (event.stage === "tts") {
        player.stop();
        showVoiceNote(message);
        return;
      }
      if (event.stage === "stt" && event.code === "provider_not_configured") {
        disableVoice(message);
        return;
      }
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
      showError(message, event.retryable && event.code !== "busy" && !event.stage && !event.retry_after);
      setStatus("");
    },
    transcript(event) {
      const element = addBubble("user", event.text);
      element.classList.add("bubble--voice");
      setStatus("");
    },
    safety(event) {
      unsent = null;
      const element = safetyTemplate.content.firstElementChild.cloneNode(true);
      element.querySelector("[data-safety-text]").textContent = event.message;
      const list = element.querySelector("[data-safety-resources]");
      for (const resource of event.resources) {
        const item = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = resource.name;
        item.append(name, ` ${resource.contact}`);
        list.append(item);
      }
      transcript.append(element);
      scrollToEnd();
      setStatus("");
    },
    "audio.start"(event) {
      if (streaming?.id === event.message_id) player.begin(event.format);
    },
    ended() {
      window.location.reload();
    },
  };

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${window.location.host}${root.dataset.streamPath}`);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      setStatus("Connecting…");
      send({
        type: "start",
        conversation_id: root.dataset.conversationId,
        output_audio: ReplyPlayer.supported() ? "pcm_16000" : "none",
        input_audio: "pcm_s16le_16000",
      });
    });
    socket.addEventListener("message", (message) => {
      if (message.data instanceof ArrayBuffer) {
        player.push(message.data);
        return;
      }
      const event = JSON.parse(message.data);
      handlers[event.type]?.(event);
    });
    socket.addEventListener("close", (event) => {
      ready = false;
      sendButton.disabled = true;
      talkButton.disabled = true;
      player.stop();
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
    player.stop();
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

  stopButton.addEventListener("click", () => {
    player.stop();
    send({ type: "interrupt" });
  });
  retryButton.addEventListener("click", () => {
    clearError();
    send({ type: "retry" });
  });

  // -- voice ---------------------------------------------------------------

  function showVoiceNote(message) {
    voiceNote.textContent = message;
    voiceNote.hidden = false;
  }

  function disableVoice(message) {
    voiceInput = false;
    voiceBox.hidden = true;
    if (talking) stopTalking();
    showVoiceNote(message);
  }

  function setupVoice(event) {
    voiceInput = Boolean(event.voice_input) && Recorder.supported();
    voiceBox.hidden = !voiceInput;
    talkButton.disabled = !voiceInput;
    if (!Recorder.supported()) {
      showVoiceNote("This browser cannot record audio here, so the conversation is in text.");
    } else if (!event.voice_input) {
      showVoiceNote("Talking by voice is not set up on this server; you can type instead.");
    } else if (!event.voice_enabled) {
      showVoiceNote("Your future self answers in text here (no voice is available).");
    }
  }

  async function startTalking() {
    if (!ready || !voiceInput || talking) return;
    talking = true;
    // Pressing while they speak interrupts them at once, as speaking up would in person.
    player.stop();
    if (streaming) send({ type: "interrupt" });
    clearError();
    talkButton.setAttribute("aria-pressed", "true");
    talkLabel.textContent = "Listening… release to send";
    setStatus("Listening…");
    try {
      recorder ??= await Recorder.open(root.dataset.workletUrl, {
        frame: (pcm) => socket?.readyState === WebSocket.OPEN && socket.send(pcm),
        level: (value) => {
          levelMeter.value = value;
        },
      });
    } catch (error) {
      talking = false;
      resetTalkButton();
      const denied = error?.name === "NotAllowedError" || error?.name === "SecurityError";
      disableVoice(
        denied
          ? "Microphone access was refused, so we switched to typing. You can allow it in your browser's site settings."
          : "No microphone could be opened, so we switched to typing.",
      );
      return;
    }
    if (!talking) return; // released while the microphone was opening
    recorder.start();
  }

  async function stopTalking() {
    if (!talking) return;
    talking = false;
    resetTalkButton();
    if (!recorder) return;
    await recorder.flush();
    if (socket?.readyState === WebSocket.OPEN) send({ type: "audio.end" });
    setStatus("Sending what you said…");
  }

  function resetTalkButton() {
    talkButton.setAttribute("aria-pressed", "false");
    talkLabel.textContent = "Hold to talk";
    levelMeter.value = 0;
  }

  talkButton.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    talkButton.setPointerCapture?.(event.pointerId);
    startTalking();
  });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    talkButton.addEventListener(type, () => stopTalking());
  }
  talkButton.addEventListener("contextmenu", (event) => event.preventDefault());

  // The space bar talks too, unless the person is typing.
  const typing = (target) => target instanceof HTMLElement && target.closest("textarea, input, select, [contenteditable]");
  document.addEventListener("keydown", (event) => {
    if (event.code !== "Space" || event.repeat || typing(event.target) || voiceBox.hidden) return;
    event.preventDefault();
    startTalking();
  });
  document.addEventListener("keyup", (event) => {
    if (event.code !== "Space" || typing(event.target) || voiceBox.hidden) return;
    event.preventDefault();
    stopTalking();
  });
  window.addEventListener("blur", () => stopTalking());

  connect();
}

// -- microphone capture ------------------------------------------------------

class Recorder {
  static supported() {
    return Boolean(navigator.mediaDevices?.getUserMedia && window.AudioContext && window.AudioWorkletNode);
  }

  static async open(workletUrl, { frame, level }) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const context = new AudioContext();
    await context.audioWorklet.addModule(workletUrl);
    const node = new AudioWorkletNode(context, "pcm16k-capture");
    context.createMediaStreamSource(stream).connect(node);
    return new Recorder(context, node, frame, level);
  }

  constructor(context, node, frame, level) {
    this.context = context;
    this.node = node;
    this.flushed = null;
    node.port.onmessage = (event) => {
      const { pcm, final } = event.data;
      if (pcm.byteLength) frame(pcm);
      level(final ? 0 : event.data.level);
      if (final && this.flushed) {
        this.flushed();
        this.flushed = null;
      }
    };
  }

  start() {
    this.context.resume();
    this.node.port.postMessage("start");
  }

  flush() {
    return new Promise((resolve) => {
      this.flushed = resolve;
      this.node.port.postMessage("flush");
    });
  }
}

// -- reply playback ----------------------------------------------------------

// Plays one reply's audio as its chunks arrive, without gaps: PCM chunks are
// scheduled back to back on a Web Audio clock; MP3 is appended to a MediaSource.
// stop() silences it at once and drops whatever else arrives for that reply.
class ReplyPlayer {
  static supported() {
    return Boolean(window.AudioContext);
  }

  constructor() {
    this.context = null;
    this.format = null;
    this.sources = new Set();
    this.playAt = 0;
    this.carry = null; // an odd trailing byte of PCM, completed by the next chunk
    this.media = null;
  }

  begin(format) {
    this.stop();
    this.format = format;
    if (format.startsWith("pcm_")) {
      this.rate = Number(format.split("_")[1]);
      this.context ??= new AudioContext();
      this.context.resume();
      this.playAt = 0;
    } else if (window.MediaSource && MediaSource.isTypeSupported("audio/mpeg")) {
      this.media = new MediaPlayback();
    } else {
      this.format = null;
    }
  }

  push(buffer) {
    if (!this.format) return; // nothing announced, or interrupted: drop it
    if (this.media) {
      this.media.append(buffer);
      return;
    }
    let bytes = new Uint8Array(buffer);
    if (this.carry !== null) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = null;
    }
    if (bytes.length % 2) {
      this.carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    if (!bytes.length) return;
    const samples = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const audio = this.context.createBuffer(1, samples.length, this.rate);
    const channel = audio.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 0x8000;
    const source = this.context.createBufferSource();
    source.buffer = audio;
    source.connect(this.context.destination);
    // A little lead on the first chunk absorbs network jitter; later chunks follow back to back.
    const now = this.context.currentTime;
    this.playAt = Math.max(this.playAt, now + 0.06);
    source.start(this.playAt);
    this.playAt += audio.duration;
    this.sources.add(source);
    source.addEventListener("ended", () => this.sources.delete(source));
  }

  end() {
    this.media?.end();
    this.format = null;
    this.carry = null;
  }

  stop() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    this.sources.clear();
    this.media?.stop();
    this.media = null;
    this.format = null;
    this.carry = null;
    this.playAt = 0;
  }
}

class MediaPlayback {
  constructor() {
    this.queue = [];
    this.ended = false;
    this.audio = new Audio();
    this.source = new MediaSource();
    this.audio.src = URL.createObjectURL(this.source);
    this.source.addEventListener("sourceopen", () => {
      this.buffer = this.source.addSourceBuffer("audio/mpeg");
      this.buffer.addEventListener("updateend", () => this.pump());
      this.pump();
    });
    this.audio.play().catch(() => {});
  }

  append(chunk) {
    this.queue.push(chunk);
    this.pump();
  }

  pump() {
    if (!this.buffer || this.buffer.updating) return;
    if (this.queue.length) {
      this.buffer.appendBuffer(this.queue.shift());
    } else if (this.ended && this.source.readyState === "open") {
      this.source.endOfStream();
    }
  }

  end() {
    this.ended = true;
    this.pump();
  }

  stop() {
    this.queue = [];
    this.audio.pause();
    URL.revokeObjectURL(this.audio.src);
  }
}

const root = document.querySelector("[data-conversation]");
if (root) start(root);
