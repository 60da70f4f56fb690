// The live feed: newest first, capped, pausable; a row is a button that looks its message up.

import { badge, clock, duration, el, shortId } from "./format.js";

const MAX_ROWS = 150;
const SUMMARY_EVERY_MS = 2000;

function detail(event) {
  if (event.stage === "done" || (event.stage === "dead" && !event.error)) {
    return duration(event.latency_ms);
  }
  if (event.error) return event.attempt ? `attempt ${event.attempt}: ${event.error}` : event.error;
  if (event.attempt > 1) return `attempt ${event.attempt}`;
  return event.topic ? `topic ${event.topic}` : "";
}

function row(event, onChoose) {
  const button = el(
    "button",
    {
      type: "button",
      className: "row",
      "data-id": event.id,
      "data-stage": event.stage,
      title: `Look up ${event.id}`,
    },
    [
      el("span", { className: "time", text: clock(event.at) }),
      badge(event.stage),
      el("span", { className: "type", text: event.type }),
      el("span", { className: "id", text: shortId(event.id) }),
      el("span", { className: "detail", text: detail(event) }),
    ],
  );
  button.addEventListener("click", () => onChoose(event.id));
  return el("li", {}, button);
}

export class Feed {
  constructor({ list, summary, pauseButton, onChoose }) {
    this.list = list;
    this.summary = summary;
    this.pauseButton = pauseButton;
    this.onChoose = onChoose;
    this.paused = false;
    this.pending = [];
    this.seen = 0;
    this.latest = null;
    this.summaryTimer = null;
    this.summaryStale = false;
    pauseButton.addEventListener("click", () => this.togglePause());
  }

  reset(events) {
    this.list.replaceChildren();
    this.pending = [];
    for (const event of events.slice(-MAX_ROWS)) this.render(event);
    this.latest = events.at(-1) || null;
    this.describe();
  }

  add(event) {
    this.seen += 1;
    // `accepted` comes from the producer, every later stage from a consumer: across the two
    // processes it may arrive after the consumer's events, and must not undo them here.
    const late = event.stage === "accepted" && this.latest && this.latest.id === event.id;
    if (!late) this.latest = event;
    if (this.paused) {
      this.pending.push(event);
      if (this.pending.length > MAX_ROWS) this.pending.shift();
    } else {
      this.render(event);
    }
    this.scheduleSummary();
  }

  render(event) {
    this.list.prepend(row(event, this.onChoose));
    while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove();
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    if (!this.paused) {
      for (const event of this.pending) this.render(event);
      this.pending = [];
    }
    this.describe();
  }

  scheduleSummary() {
    // Screen readers hear a summary at once, then at most every two seconds, not every event.
    if (this.summaryTimer !== null) {
      this.summaryStale = true;
      return;
    }
    this.describe();
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = null;
      if (this.summaryStale) this.scheduleSummary();
    }, SUMMARY_EVERY_MS);
    this.summaryStale = false;
  }

  describe() {
    const event = this.latest;
    if (!event) {
      this.summary.textContent = this.paused ? "Paused. No events yet." : "No events yet.";
      return;
    }
    const latest = `Latest: ${event.stage}, ${event.type}, ${shortId(event.id)} at ${clock(event.at)}.`;
    const paused = this.paused ? ` Paused: ${this.pending.length} new events held back.` : "";
    this.summary.textContent = `${latest}${paused}`;
  }
}
