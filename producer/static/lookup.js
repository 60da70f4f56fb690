// Status lookup by message id (GET /messages/{id}), refreshed while its events arrive.

import { apiFetch } from "./auth.js";
import { badge, dateTime, clock, duration, el, readProblem, ID_PATTERN } from "./format.js";

const REFRESH_DELAY_MS = 300;

function queues(status) {
  // One queue: its name (and the topic it came through); a topic's fan-out: each queue's stage.
  const reached = Object.entries(status.queues || {});
  if (reached.length <= 1) return status.topic ? `${status.queue} (topic ${status.topic})` : status.queue;
  const each = reached.map(([name, progress]) => el("span", { className: "queue-stage", "data-queue": name }, [`${name} `, badge(progress.stage)]));
  return el("span", {}, status.topic ? [`topic ${status.topic}: `, ...each] : each);
}

function fields(status) {
  const rows = [
    ["Stage", badge(status.stage)],
    ["Type", status.type],
    [Object.keys(status.queues || {}).length > 1 ? "Queues" : "Queue", queues(status)],
    ["Attempts", String(status.attempts)],
    ["First seen", dateTime(status.first_seen)],
    ["Updated", dateTime(status.updated)],
  ];
  if (status.latency_ms !== null) rows.push(["Latency", duration(status.latency_ms)]);
  if (status.error) rows.push(["Error", status.error]);
  return el("dl", { className: "status-fields" }, rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
}

function history(entries) {
  const head = el("tr", {}, ["Time", "Stage", "Queue", "Attempt", "Detail"].map((name) => el("th", { scope: "col", text: name })));
  const rows = entries.map((entry) =>
    el("tr", {}, [
      el("td", { className: "mono", text: clock(entry.at) }),
      el("td", {}, badge(entry.stage)),
      el("td", { text: entry.queue }),
      el("td", { text: String(entry.attempt) }),
      el("td", { text: entry.error || duration(entry.latency_ms) }),
    ]),
  );
  const caption = el("caption", { className: "visually-hidden", text: "Stages reported" });
  const table = el("table", { className: "history" }, [caption, el("thead", {}, head), el("tbody", {}, rows)]);
  return el("div", { className: "history-wrap" }, table);
}

export class Lookup {
  constructor() {
    this.form = document.getElementById("lookup-form");
    this.input = document.getElementById("lookup-id");
    this.result = document.getElementById("lookup-result");
    this.shown = null;
    this.request = 0;
    this.refreshTimer = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.fetch(this.input.value.trim());
    });
  }

  show(id) {
    this.input.value = id;
    this.fetch(id);
  }

  refreshIf(id) {
    if (id !== this.shown || this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.fetch(this.shown, { quiet: true });
    }, REFRESH_DELAY_MS);
  }

  clear() {
    this.shown = null;
    this.request += 1; // an answer on its way is no longer shown
    clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.result.replaceChildren();
  }

  say(text) {
    this.result.replaceChildren(el("p", { className: "bad", text }));
  }

  async fetch(id, { quiet = false } = {}) {
    if (!ID_PATTERN.test(id)) {
      this.input.setAttribute("aria-invalid", "true");
      this.shown = null;
      this.say("A message id is printable ASCII, at most 256 characters, like the id of a 202 answer.");
      if (!quiet) this.input.focus();
      return;
    }
    this.input.removeAttribute("aria-invalid");
    this.shown = id;
    const request = ++this.request;
    let response;
    try {
      response = await apiFetch(`messages/${encodeURIComponent(id)}`);
    } catch (error) {
      if (request === this.request) this.say(`The producer did not answer: ${error.message}`);
      return;
    }
    if (request !== this.request) return; // a newer lookup has started
    if (!response.ok) {
      this.say(await readProblem(response));
      return;
    }
    const status = await response.json();
    this.result.replaceChildren(
      el("div", { "data-id": status.id, "data-stage": status.stage }, [fields(status), history(status.history)]),
    );
  }
}
