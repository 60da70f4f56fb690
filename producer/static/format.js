// Small helpers shared by the dashboard's modules: DOM building, formatting, HTTP answers.

export function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of [].concat(children)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

export function clock(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "–";
  const time = date.toLocaleTimeString([], { hour12: false });
  return `${time}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

export function dateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "–" : `${date.toLocaleDateString()} ${clock(iso)}`;
}

export function shortId(id) {
  return String(id).slice(0, 8);
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function count(value) {
  return Number(value || 0).toLocaleString();
}

const COMPACT = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export function compact(value) {
  // Big totals as 15.9K, so they fit their box; the exact figure goes in a tooltip.
  const number = Number(value || 0);
  return number < 10000 ? number.toLocaleString() : COMPACT.format(number);
}

export function badge(stage) {
  return el("span", { className: `badge ${stage}`, text: stage });
}

export function apiUrl(path) {
  // Relative to the page, so the dashboard also works behind a path prefix.
  return new URL(path, document.baseURI);
}

// Envelope ids are printable ASCII up to 256 characters: ours are UUIDs, a sender's may be anything.
export const ID_PATTERN = /^[\x20-\x7e]{1,256}$/;

export async function readProblem(response) {
  // Our error answers carry `detail` (a sentence) or, for 422, `message` naming each field.
  try {
    const body = await response.json();
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}
