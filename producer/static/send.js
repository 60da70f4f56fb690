// The send form: POST /messages, or a topic's messages when the producer has topics.
// Sent with the API key; a 401 locks the page behind the key form (see keygate.js).

import { apiFetch } from "./auth.js";
import { el, readProblem } from "./format.js";

const TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
const byId = (id) => document.getElementById(id);

function checkType(value) {
  if (!value) return "Give the message a type, such as order.created.";
  if (value.length > 128) return "A type has at most 128 characters.";
  if (!TYPE_PATTERN.test(value)) {
    return "A type starts with a letter or digit and has only letters, digits and _ . : / -";
  }
  return "";
}

function parsePayload(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `Not valid JSON: ${error.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "The payload must be a JSON object, in braces: {\"key\": \"value\"}." };
  }
  return { value };
}

function parseAttributes(text) {
  const attributes = {};
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  for (const [index, line] of lines.entries()) {
    const split = line.indexOf("=");
    if (split < 1 || split === line.length - 1) {
      return { error: `Line ${index + 1}: write name=value.` };
    }
    attributes[line.slice(0, split).trim()] = line.slice(split + 1).trim();
  }
  return { value: attributes };
}

function topicsOf(body) {
  const list = Array.isArray(body) ? body : body?.topics;
  if (!Array.isArray(list)) return [];
  return list
    .map((topic) => {
      const name = typeof topic === "string" ? topic : topic?.name ?? topic?.topic;
      const subscriptions = Array.isArray(topic?.subscriptions) ? topic.subscriptions.length : null;
      return name ? { name: String(name), subscriptions } : null;
    })
    .filter(Boolean);
}

export function showTopics(body) {
  // From the answer to GET /topics (the key check): a producer without topics lists none,
  // or answers 404, and the selector stays hidden. Called again on each check: idempotent.
  const topics = topicsOf(body);
  const select = byId("target");
  const chosen = select.value;
  for (const option of [...select.options].slice(1)) option.remove();
  for (const topic of topics) {
    const where = topic.subscriptions === null ? "" : ` (${topic.subscriptions} subscribed)`;
    select.append(el("option", { value: topic.name, text: `Topic ${topic.name}${where}` }));
  }
  if (topics.some((topic) => topic.name === chosen)) select.value = chosen;
  byId("target-field").hidden = !topics.length;
}

function mark(input, message, errorId) {
  byId(errorId).textContent = message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !message;
}

export function setupSend({ onLookup }) {
  const form = byId("send-form");
  const type = byId("type");
  const payload = byId("payload");
  const attributes = byId("attributes");
  const button = byId("send-button");
  const result = byId("send-result");

  const validate = {
    type: () => mark(type, checkType(type.value.trim()), "type-error"),
    payload: () => mark(payload, parsePayload(payload.value).error || "", "payload-error"),
    attributes: () => mark(attributes, parseAttributes(attributes.value).error || "", "attributes-error"),
  };
  type.addEventListener("input", validate.type);
  payload.addEventListener("input", validate.payload);
  attributes.addEventListener("input", validate.attributes);

  function accepted(body, where) {
    const look = el("button", { type: "button", text: "Look up" });
    look.addEventListener("click", () => onLookup(body.id));
    result.replaceChildren(
      el("span", { className: "ok", text: `Accepted into ${where}. ` }),
      "id ",
      el("code", { "data-id": body.id, text: body.id }),
      look,
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const checks = [["type", type], ["payload", payload], ["attributes", attributes]];
    const invalid = checks.filter(([name]) => !validate[name]()).map(([, input]) => input);
    if (invalid.length) {
      invalid[0].focus();
      return;
    }
    const topic = byId("target").value;
    const path = topic ? `topics/${encodeURIComponent(topic)}/messages` : "messages";
    const message = { type: type.value.trim(), payload: parsePayload(payload.value).value };
    const attributeValues = parseAttributes(attributes.value).value;
    if (Object.keys(attributeValues).length) message.attributes = attributeValues;
    button.disabled = true;
    try {
      const response = await apiFetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(message),
      });
      if (response.ok) accepted(await response.json(), topic ? `topic ${topic}` : "the queue");
      else result.replaceChildren(el("span", { className: "bad", text: `Not sent (${response.status}): ${await readProblem(response)}` }));
    } catch (error) {
      result.replaceChildren(el("span", { className: "bad", text: `The producer did not answer: ${error.message}` }));
    } finally {
      button.disabled = false;
    }
  });
}
