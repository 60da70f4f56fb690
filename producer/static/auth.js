// The API key (PRODUCER_API_KEYS): kept in this tab's sessionStorage, sent only in the
// Authorization header or, for the live feed, as a WebSocket subprotocol. Never in a URL,
// never logged.

import { apiUrl } from "./format.js";

const STORAGE_NAME = "sqs-producer.api-key";
export const FEED_PROTOCOL = "sqs-feed";
const KEY_PROTOCOL_PREFIX = "bearer.";

let fallbackKey = null; // where sessionStorage is unavailable (storage switched off)
const refusedListeners = new Set();

export function storedKey() {
  try {
    return window.sessionStorage.getItem(STORAGE_NAME) || null;
  } catch {
    return fallbackKey;
  }
}

export function rememberKey(key) {
  fallbackKey = key;
  try {
    window.sessionStorage.setItem(STORAGE_NAME, key);
  } catch {
    // kept in memory only: gone with this page
  }
}

export function forgetKey() {
  fallbackKey = null;
  try {
    window.sessionStorage.removeItem(STORAGE_NAME);
  } catch {
    // nothing stored there
  }
}

export function authHeaders(key = storedKey()) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export function base64url(text) {
  // RFC 4648 §5 of the UTF-8 bytes, without padding: what the producer decodes.
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function feedProtocols(key = storedKey()) {
  // Browsers cannot set headers on a WebSocket: the key rides as a second subprotocol, and
  // the producer answers with the first.
  return key ? [FEED_PROTOCOL, `${KEY_PROTOCOL_PREFIX}${base64url(key)}`] : [FEED_PROTOCOL];
}

export function onKeyRefused(listener) {
  // `listener(hadKey)` runs when the producer answers 401 to the key this tab holds.
  refusedListeners.add(listener);
}

export async function apiFetch(path, init = {}, key = storedKey()) {
  // fetch() for the data routes, with the key. A 401 to the stored key (rotated, revoked)
  // forgets it and tells the listeners; a 401 to a key only being tried is the caller's.
  const headers = { ...init.headers, ...authHeaders(key) };
  const response = await fetch(apiUrl(path), { ...init, headers, credentials: "same-origin" });
  if (response.status === 401 && key === storedKey()) {
    forgetKey();
    for (const listener of refusedListeners) listener(Boolean(key));
  }
  return response;
}
