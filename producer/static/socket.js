// The live feed's WebSocket: reconnects with jittered backoff and reports its state.

import { apiUrl } from "./format.js";

const MAX_DELAY_MS = 10000;
const CLOSE_REASONS = {
  1001: "the producer is restarting",
  1013: "this page fell behind and was dropped",
};

function backoff(attempt) {
  const ceiling = Math.min(MAX_DELAY_MS, 500 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export function connectFeed({ onFrame, onState }) {
  let attempt = 0;
  let timer = null;
  let socket = null;

  function open() {
    clearTimeout(timer);
    timer = null;
    onState("connecting", attempt ? "Reconnecting to the live feed…" : "Connecting to the live feed…");
    const url = apiUrl("feed");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(url);
    socket.addEventListener("message", (message) => {
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
    socket.addEventListener("close", (event) => {
      const delay = backoff(attempt);
      attempt += 1;
      const why = CLOSE_REASONS[event.code] || "connection lost";
      onState("down", `Disconnected: ${why}. Retrying in ${Math.ceil(delay / 1000)} s.`);
      timer = setTimeout(open, delay);
    });
  }

  window.addEventListener("online", () => {
    if (timer !== null) open();
  });
  open();
}
