// The live feed's WebSocket: reconnects with jittered backoff and reports its state.
// Each attempt first asks `admit()` (an HTTP check of the key) whether to go on, since a
// refused handshake gives the page no reason; the key rides as a subprotocol, not in the URL.

import { apiUrl } from "./format.js";

const MAX_DELAY_MS = 10000;
const CLOSE_REASONS = {
  1001: "the producer went away",
  1012: "the producer is restarting",
  1013: "this page fell behind and was dropped",
};

function backoff(attempt) {
  const ceiling = Math.min(MAX_DELAY_MS, 500 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function connectFeed({ onFrame, onState, admit }) {
  let attempt = 0;
  let timer = null;
  let socket = null;
  let stopped = false;

  function retry(why, afterSeconds = 0) {
    const delay = Math.max(backoff(attempt), afterSeconds * 1000);
    attempt += 1;
    onState("down", `Disconnected: ${why}. Retrying in ${Math.ceil(delay / 1000)} s.`);
    timer = setTimeout(open, delay);
  }

  async function open() {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    onState("connecting", attempt ? "Reconnecting to the live feed…" : "Connecting to the live feed…");
    const verdict = await admit();
    if (stopped || verdict.locked) return; // the key form has taken over
    if (verdict.stop) {
      onState("down", `Disconnected: ${verdict.why}`);
      return;
    }
    if (!verdict.ok) {
      retry(verdict.retry, verdict.after);
      return;
    }
    const url = apiUrl("feed");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const current = new WebSocket(url, verdict.protocols);
    socket = current;
    current.addEventListener("message", (message) => {
      if (stopped) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.kind === "hello") {
        attempt = 0;
        onState("live", "Live");
      }
      onFrame(frame);
    });
    current.addEventListener("close", (event) => {
      if (stopped || socket !== current) return;
      socket = null;
      retry(CLOSE_REASONS[event.code] || "connection lost");
    });
  }

  function online() {
    if (timer !== null) open();
  }

  window.addEventListener("online", online);
  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = null;
      window.removeEventListener("online", online);
      socket?.close(1000);
      socket = null;
    },
  };
}
