// Queue depths from stats frames, and the dead-letter redrive (an admin endpoint).

import { apiUrl, clock, compact, count, el, readProblem } from "./format.js";

const byId = (id) => document.getElementById(id);

function showFeedHealth(stats) {
  // Through the events topic this replica's own feed queue brings the events it shows.
  const reader = stats.feed_reader || stats.events_reader;
  byId("events-read").textContent = reader ? count(reader.events) : "off: no events queue";
  byId("events-malformed").textContent = reader ? count(reader.malformed) : "–";
  const feedQueue = stats.feed_queue;
  byId("feed-queue").textContent = feedQueue
    ? `${feedQueue.name}${feedQueue.removed ? `; removed ${count(feedQueue.removed)} left behind` : ""}`
    : stats.feed_reader ? "being made" : "none: events come through the shared queue";
  byId("pages").textContent = `${count(stats.clients)}, ${count(stats.dropped_clients)}`;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function queueRow(name, figures, className) {
  // A queue that could not be read shows dashes; the note says why.
  const cell = (value) => el("td", { className: "num", text: value });
  return el("tr", { className, "data-queue": name }, [
    el("th", { scope: "row", text: name }),
    cell(figures ? compact(figures.visible) : "–"),
    cell(figures ? compact(figures.in_flight) : "–"),
    cell(figures ? age(figures.oldest_age_seconds) : "–"),
  ]);
}

function showQueues(rows) {
  // Every declared queue, each followed by its dead-letter queue.
  const body = document.getElementById("queue-rows");
  body.replaceChildren(
    ...rows.flatMap((row) => [
      queueRow(row.name, row.queue, "queue-row"),
      queueRow(row.dlq ? row.dlq.name : `${row.name} dead letters`, row.dlq, "dlq-row"),
    ]),
  );
}

export function showDepths(stats) {
  showFeedHealth(stats);
  const queue = stats.queue;
  const dlq = stats.dlq;
  byId("depth-visible").textContent = queue ? compact(queue.visible) : "–";
  byId("depth-in-flight").textContent = queue ? compact(queue.in_flight) : "–";
  byId("depth-dlq").textContent = dlq ? compact(dlq.visible) : "–";
  showQueues(stats.queues || []);
  const note = byId("depth-note");
  note.classList.toggle("error-text", Boolean(stats.error));
  if (stats.error) {
    note.textContent = `Could not read: ${stats.error}`;
    return;
  }
  const held = dlq && dlq.in_flight ? `; ${count(dlq.in_flight)} dead letters being read` : "";
  note.textContent = `${queue.name} and ${dlq.name}, as of ${clock(stats.at)}${held}.`;
}

function outcome(result) {
  if (result.method === "native") {
    return "SQS started moving the dead letters back to the queue; they return over the next moments.";
  }
  const failed = result.failed ? `, ${count(result.failed)} could not be sent and stay` : "";
  const endings = {
    empty: "The dead-letter queue is empty.",
    "all-moved": "Every dead letter there at the start was handled.",
  };
  const stopped = endings[result.stopped] || `Stopped: ${result.stopped}.`;
  return `Moved ${count(result.moved)} messages back to the queue${failed}. ${stopped}`;
}

const REFUSALS = {
  401: "The admin token was not accepted. Use the value of the producer's PRODUCER_ADMIN_TOKEN.",
  403: "Admin endpoints are switched off on this producer: start it with PRODUCER_ADMIN_TOKEN set.",
};

export function setupRedrive() {
  const form = byId("redrive-form");
  const token = byId("token");
  const button = byId("redrive-button");
  const result = byId("redrive-result");

  function say(text, ok) {
    result.replaceChildren(Object.assign(document.createElement("span"), { className: ok ? "ok" : "bad", textContent: text }));
  }

  // Ask before asking for a token: without PRODUCER_ADMIN_TOKEN the admin endpoints are
  // off (403), and no token typed here could work.
  fetch(apiUrl("admin/dlq"), { method: "GET" })
    .then((response) => {
      if (response.status !== 403) return;
      form.dataset.admin = "off";
      token.disabled = true;
      button.disabled = true;
      byId("token-hint").textContent =
        "Redrive is off on this producer: start it with PRODUCER_ADMIN_TOKEN set (make run sets one and prints it).";
    })
    .catch(() => {});

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!token.value.trim()) {
      token.setAttribute("aria-invalid", "true");
      say("Enter the admin token first.", false);
      token.focus();
      return;
    }
    token.removeAttribute("aria-invalid");
    button.disabled = true;
    say("Redriving…", true);
    try {
      const response = await fetch(apiUrl("admin/dlq/redrive"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token.value.trim()}` },
        body: "{}",
      });
      if (response.ok) say(outcome(await response.json()), true);
      else say(REFUSALS[response.status] || `Redrive failed: ${await readProblem(response)}`, false);
    } catch (error) {
      say(`The producer did not answer: ${error.message}`, false);
    } finally {
      button.disabled = false;
    }
  });
}
