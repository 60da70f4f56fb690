// The key prompt. Before the feed connects, GET /topics tells whether the producer wants a
// key and whether the stored one is good: a refused WebSocket handshake gives the page no
// reason it could show, an HTTP 401 does.

import { apiFetch, feedProtocols, forgetKey, onKeyRefused, rememberKey, storedKey } from "./auth.js";
import { readProblem } from "./format.js";

const KEY_PATTERN = /^[\x21-\x7e]+$/; // what an Authorization header can carry
const byId = (id) => document.getElementById(id);

function retryAfter(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

export class KeyGate {
  constructor({ onLock, onUnlock, onTopics, onState }) {
    this.onLock = onLock;
    this.onUnlock = onUnlock;
    this.onTopics = onTopics;
    this.onState = onState;
    this.panel = byId("key-panel");
    this.form = byId("key-form");
    this.input = byId("api-key");
    this.button = byId("key-button");
    this.status = byId("key-status");
    this.forgetButton = byId("forget-key");
    this.main = document.querySelector("main");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.forgetButton.addEventListener("click", () => {
      forgetKey();
      this.lock("The key is forgotten in this tab. Enter a key to see the dashboard again.");
    });
    onKeyRefused((hadKey) => this.lock(hadKey ? "The key this tab held is no longer accepted; enter a current one." : ""));
  }

  say(text, bad = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error-text", bad);
  }

  lock(message) {
    // The form takes the place of the dashboard until a key is accepted; the feed stops.
    const wasLocked = !this.panel.hidden;
    this.onLock();
    this.onState("locked", "Locked: this producer needs an API key");
    this.forgetButton.hidden = true;
    this.main.hidden = true;
    this.panel.hidden = false;
    if (message || !wasLocked) this.say(message);
    this.input.focus();
  }

  unlock() {
    const wasLocked = !this.panel.hidden;
    this.panel.hidden = true;
    this.main.hidden = false;
    this.forgetButton.hidden = !storedKey();
    this.say("");
    this.input.removeAttribute("aria-invalid");
    return wasLocked;
  }

  async check() {
    // Whether the feed may connect now: {ok, protocols}, {locked}, {stop, why} or {retry, after}.
    let response;
    try {
      response = await apiFetch("topics", { headers: { Accept: "application/json" } });
    } catch {
      return { retry: "the producer did not answer" };
    }
    if (response.status === 401) return { locked: true }; // apiFetch's listener locked the page
    if (response.status === 429) return { retry: "over the rate limit", after: retryAfter(response) };
    if (response.status === 403) return { stop: true, why: `refused: ${await readProblem(response)}` };
    if (response.status >= 500) return { retry: `the producer answered ${response.status}` };
    if (response.ok) this.onTopics(await response.json().catch(() => null));
    this.unlock();
    return { ok: true, protocols: feedProtocols() };
  }

  async submit() {
    const key = this.input.value.trim();
    const refuse = (text) => {
      this.input.setAttribute("aria-invalid", "true");
      this.say(text, true);
      this.input.focus();
      this.input.select();
    };
    if (!key) return refuse("Enter the API key first.");
    if (!KEY_PATTERN.test(key)) return refuse("An API key has no spaces and only ASCII letters, digits and signs.");
    this.button.disabled = true;
    this.say("Checking the key…");
    let response;
    try {
      response = await apiFetch("topics", { headers: { Accept: "application/json" } }, key);
    } catch (error) {
      return refuse(`The producer did not answer: ${error.message}`);
    } finally {
      this.button.disabled = false;
    }
    if (response.status === 401) return refuse("That key was not accepted.");
    if (response.status === 429) {
      return refuse(`Too many tries: wait ${retryAfter(response) || "a few"} s and try again.`);
    }
    if (response.status === 403 || response.status >= 500) {
      return refuse(`The producer answered ${response.status}: ${await readProblem(response)}`);
    }
    rememberKey(key);
    this.input.value = "";
    this.unlock();
    byId("feed-title").focus(); // the form is gone: land where the news will come
    this.onUnlock();
  }
}
