// AudioWorklet turning the microphone into 16 kHz 16-bit mono PCM frames of ~100 ms.
// Loaded from static/ (worklets follow the page's script-src). Messages in: "start", "flush", "stop".
// Messages out: {pcm: ArrayBuffer, level: 0..1, final: bool}; the final one answers "flush".

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 1600; // 100 ms at 16 kHz

class Pcm16kCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / TARGET_RATE; // sampleRate is the context's rate (worklet global)
    this.recording = false;
    this.resetFrame();
    this.port.onmessage = (event) => {
      if (event.data === "start") {
        this.resetFrame();
        this.recording = true;
      } else if (event.data === "flush") {
        this.post(true);
        this.recording = false;
      } else if (event.data === "stop") {
        this.recording = false;
      }
    };
  }

  resetFrame() {
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
    this.energy = 0;
  }

  post(final) {
    const pcm = this.frame.slice(0, this.filled).buffer;
    const level = this.filled ? Math.min(1, Math.sqrt(this.energy / this.filled) * 4) : 0;
    this.port.postMessage({ pcm, level, final }, [pcm]);
    this.filled = 0;
    this.energy = 0;
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.energy += clamped * clamped;
    if (this.filled === FRAME_SAMPLES) this.post(false);
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!this.recording || !channel) return true;
    // Box-filter decimation: average the input samples falling into each output sample.
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count += 1;
      this.phase += 1;
      if (this.phase >= this.ratio) {
        this.phase -= this.ratio;
        this.push(this.sum / this.count);
        this.sum = 0;
        this.count = 0;
      }
    }
    return true;
  }
}

registerProcessor("pcm16k-capture", Pcm16kCapture);
