// @ts-check
// The session: the token and whose it is, in the tab's sessionStorage only (so it ends with the
// tab), ended when it expires. What the page shows on a start or an end is up to its watchers.

/** @typedef {{ token: string, email: string, expiresAt: string }} Session */
/**
 * Told of every start and end, in the order they were added.
 * @typedef {{ started(session: Session): void, ended(reason: string | undefined): void }} SessionWatcher
 */

const SESSION_KEY = 'mp3converter.session';

/**
 * The tab's sessionStorage, or nothing where the browser refuses it (storage blocked): the
 * session then lives in this page only, until it is reloaded.
 */
const storage = (() => {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
})();

/** @param {(store: Storage) => void} change */
function store(change) {
  try {
    if (storage !== undefined) change(storage);
  } catch {
    // Full or refused: the session stays in memory.
  }
}

/** @type {Session | undefined} */
let session;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let expiryTimer;
/** @type {SessionWatcher[]} */
const watchers = [];

/** @param {SessionWatcher} watcher */
export function watchSession(watcher) {
  watchers.push(watcher);
}

/**
 * The session of whoever is signed in. An answer that arrives once this is no longer the
 * session its request was made in is not the page's business any more.
 * @returns {Session | undefined}
 */
export function currentSession() {
  return session;
}

/** @param {Session} next */
export function startSession(next) {
  session = next;
  store((tab) => {
    tab.setItem(SESSION_KEY, JSON.stringify(next));
  });
  clearTimeout(expiryTimer);
  // setTimeout's delay is a 32-bit number of milliseconds: past about 24 days it fires at once.
  const left = Math.min(Date.parse(next.expiresAt) - Date.now(), 2 ** 31 - 1);
  expiryTimer = setTimeout(
    () => {
      endSession('Your session has expired. Sign in again.');
    },
    Math.max(left, 0),
  );
  for (const watcher of watchers) watcher.started(next);
}

/** @param {string} [reason] why, when the user did not sign out themselves */
export function endSession(reason) {
  session = undefined;
  forget();
  clearTimeout(expiryTimer);
  for (const watcher of watchers) watcher.ended(reason);
}

/**
 * The session this tab kept from before a reload, unless it has expired; one that cannot be
 * used is forgotten.
 * @returns {Session | undefined}
 */
export function resumedSession() {
  const kept = storedSession();
  if (kept !== undefined && Date.parse(kept.expiresAt) > Date.now()) return kept;
  forget();
  return undefined;
}

function forget() {
  store((tab) => {
    tab.removeItem(SESSION_KEY);
  });
}

/** @returns {Session | undefined} */
function storedSession() {
  try {
    const raw = storage?.getItem(SESSION_KEY) ?? null;
    if (raw === null) return undefined;
    const value = /** @type {unknown} */ (JSON.parse(raw));
    if (typeof value !== 'object' || value === null) return undefined;
    const { token, email, expiresAt } = /** @type {Record<string, unknown>} */ (value);
    if (typeof token !== 'string' || typeof email !== 'string' || typeof expiresAt !== 'string') {
      return undefined;
    }
    return { token, email, expiresAt };
  } catch {
    return undefined;
  }
}
