// The dashboard: wires the live feed's frames to the panels that show them.

import { RateChart } from "./chart.js";
import { Counters } from "./counters.js";
import { Feed } from "./feed.js";
import { KeyGate } from "./keygate.js";
import { Lookup } from "./lookup.js";
import { showDepths, setupRedrive } from "./queues.js";
import { setupSend, showTopics } from "./send.js";
import { connectFeed } from "./socket.js";

const lookup = new Lookup();
const counters = new Counters();
const chart = new RateChart(document.getElementById("rate-chart"));
const feed = new Feed({
  list: document.getElementById("feed-list"),
  summary: document.getElementById("feed-summary"),
  pauseButton: document.getElementById("pause-button"),
  onChoose: (id) => lookup.show(id),
});

function showConnection(state, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = state;
  document.getElementById("connection-text").textContent = text;
}

function onStats(stats) {
  counters.set(stats.totals, stats.rates);
  if (stats.interval_seconds) chart.intervalSeconds = stats.interval_seconds;
  chart.push(stats.rates);
  showDepths(stats);
}

const handlers = {
  hello(frame) {
    feed.reset(frame.recent);
    counters.set(frame.totals, frame.rates);
    chart.push(frame.rates);
    if (frame.stats) showDepths(frame.stats); // the latest reading; the next one is on its way
  },
  event(frame) {
    feed.add(frame);
    counters.bump(frame.stage);
    lookup.refreshIf(frame.id);
  },
  stats: onStats,
};

setupSend({ onLookup: (id) => lookup.show(id) });
setupRedrive();

let live = null; // the feed's connection, while the page may have one

function startFeed() {
  live?.stop();
  live = connectFeed({
    onState: showConnection,
    onFrame: (frame) => handlers[frame.kind]?.(frame),
    admit: () => gate.check(), // GET /topics with the key first; 401 shows the key form
  });
}

function stopFeed() {
  // Locked (no key, a refused one, or forgotten): nothing more arrives, and what this key
  // showed is cleared from the page.
  live?.stop();
  live = null;
  feed.reset([]);
  counters.set({}, {});
  lookup.clear();
  document.getElementById("send-result").replaceChildren();
}

const gate = new KeyGate({
  onLock: stopFeed,
  onUnlock: startFeed,
  onTopics: showTopics,
  onState: showConnection,
});
startFeed();
