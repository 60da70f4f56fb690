// The dashboard: wires the live feed's frames to the panels that show them.

import { RateChart } from "./chart.js";
import { Counters } from "./counters.js";
import { Feed } from "./feed.js";
import { Lookup } from "./lookup.js";
import { showDepths, setupRedrive } from "./queues.js";
import { setupSend } from "./send.js";
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
connectFeed({
  onState: showConnection,
  onFrame: (frame) => handlers[frame.kind]?.(frame),
});
