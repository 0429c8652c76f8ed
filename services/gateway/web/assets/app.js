// @ts-check
// The mp3converter page: sign in or register, upload a video with a progress bar, follow the
// conversions live, listen, download and delete. Plain DOM, no framework; every text from the
// server or the user goes in through textContent, never as HTML.

import { describeProblem, formatBytes, jobStatusText, optionsText } from './messages.js';

/** @typedef {import('./messages.js').Problem} Problem */
/** @typedef {import('./messages.js').Failure} Failure */
/** @typedef {import('./messages.js').Job} Job */
/** @typedef {{ token: string, email: string, expiresAt: string }} Session */

const SESSION_KEY = 'mp3converter.session';
/** How often the list is asked for while a job is queued or converting, and otherwise. */
const ACTIVE_POLL_MS = 1_000;
const IDLE_POLL_MS = 15_000;
/** After a failure without Retry-After (the network, say). */
const ERROR_POLL_MS = 5_000;
/** A job waiting or converting with nothing changing for this long is looked at less often. */
const STALLED_AFTER_MS = 60_000;
const STALLED_POLL_MS = 5_000;
const PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
/** A paused player's link is renewed when it has less than this left. */
const LINK_RENEW_MS = 120_000;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} type
 * @returns {T}
 */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return element;
}

const ui = {
  who: byId('who', HTMLDivElement),
  whoEmail: byId('who-email', HTMLElement),
  signOut: byId('sign-out', HTMLButtonElement),
  account: byId('account', HTMLElement),
  accountForm: byId('account-form', HTMLFormElement),
  email: byId('email', HTMLInputElement),
  password: byId('password', HTMLInputElement),
  accountMessage: byId('account-message', HTMLParagraphElement),
  convert: byId('convert', HTMLElement),
  convertTitle: byId('convert-title', HTMLHeadingElement),
  uploadForm: byId('upload-form', HTMLFormElement),
  file: byId('file', HTMLInputElement),
  fileChosen: byId('file-chosen', HTMLSpanElement),
  dropZone: byId('drop-zone', HTMLLabelElement),
  quality: byId('quality', HTMLSelectElement),
  upload: byId('upload', HTMLButtonElement),
  uploadProgress: byId('upload-progress', HTMLDivElement),
  uploadLabel: byId('upload-label', HTMLLabelElement),
  uploadBar: byId('upload-bar', HTMLProgressElement),
  uploadBytes: byId('upload-bytes', HTMLParagraphElement),
  cancel: byId('cancel', HTMLButtonElement),
  uploadMessage: byId('upload-message', HTMLParagraphElement),
  jobsSection: byId('jobs-section', HTMLElement),
  jobsTitle: byId('jobs-title', HTMLHeadingElement),
  jobsMessage: byId('jobs-message', HTMLParagraphElement),
  jobsStatus: byId('jobs-status', HTMLParagraphElement),
  jobsEmpty: byId('jobs-empty', HTMLParagraphElement),
  jobs: byId('jobs', HTMLOListElement),
  more: byId('more', HTMLButtonElement),
  announcer: byId('announcer', HTMLParagraphElement),
};

const maxUploadBytes = Number(
  document.querySelector('meta[name="max-upload-bytes"]')?.getAttribute('content'),
);

// ---- messages ----

/**
 * @param {HTMLElement} element
 * @param {string} text
 * @param {'error' | 'info' | 'success' | 'busy'} [kind] busy: under way, a final word follows
 */
function show(element, text, kind = 'info') {
  const next = text === '' ? '' : kind;
  // Unchanged: left alone, so that a live region does not say it again.
  if (element.textContent === text && element.dataset['kind'] === next) return;
  element.textContent = text;
  element.dataset['kind'] = next;
}

/** @param {string} text */
function announce(text) {
  // A fresh node each time, so a screen reader speaks the same sentence twice if it must.
  const line = document.createElement('span');
  line.textContent = text;
  ui.announcer.replaceChildren(line);
}

// ---- the session: sessionStorage only, so it ends with the tab ----

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

/** @returns {Session | undefined} */
function storedSession() {
  try {
    const raw = storage?.getItem(SESSION_KEY) ?? null;
    if (raw === null) return undefined;
    const value = parseJson(raw);
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

/** @param {Session} next */
function startSession(next) {
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
  ui.whoEmail.textContent = next.email;
  ui.who.hidden = false;
  ui.account.hidden = true;
  ui.convert.hidden = false;
  ui.jobsSection.hidden = false;
  show(ui.accountMessage, '');
  listLimit = PAGE_SIZE;
  pollNow();
}

/** @param {string} [reason] why, when the user did not sign out themselves */
function endSession(reason) {
  session = undefined;
  store((tab) => {
    tab.removeItem(SESSION_KEY);
  });
  clearTimeout(expiryTimer);
  clearTimeout(pollTimer);
  // Nothing of this user's is left for whoever signs in next.
  currentUpload?.abort();
  ui.uploadForm.reset();
  fileChosen();
  ui.uploadProgress.hidden = true;
  ui.upload.disabled = false;
  for (const entry of rendered.values()) entry.audio.pause();
  ui.jobs.replaceChildren();
  rendered.clear();
  ui.jobsEmpty.hidden = true;
  ui.more.hidden = true;
  show(ui.uploadMessage, '');
  show(ui.jobsMessage, '');
  show(ui.jobsStatus, '');
  ui.who.hidden = true;
  ui.convert.hidden = true;
  ui.jobsSection.hidden = true;
  ui.account.hidden = false;
  ui.password.value = '';
  const said = reason ?? 'You are signed out.';
  show(ui.accountMessage, said, reason === undefined ? 'info' : 'error');
  announce(said);
  ui.email.focus();
}

// ---- talking to the API ----

/** A request the API refused, or one that never got an answer (status 0). */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem} problem
   * @param {number | undefined} retryAfterSeconds
   */
  constructor(status, problem, retryAfterSeconds) {
    super(problem.detail ?? `status ${status}`);
    this.name = 'ApiError';
    /** @type {Failure} */
    this.failure = { status, problem, retryAfterSeconds };
  }
}

/**
 * @param {number} status
 * @param {string} body
 * @param {string | null} retryAfter
 * @returns {ApiError}
 */
function apiError(status, body, retryAfter) {
  /** @type {Problem} */
  let problem = {};
  try {
    const parsed = parseJson(body);
    if (typeof parsed === 'object' && parsed !== null) problem = /** @type {Problem} */ (parsed);
  } catch {
    // Not a problem document (a proxy's HTML page, say): the status alone tells.
  }
  const seconds = Number(retryAfter);
  return new ApiError(status, problem, retryAfter !== null && seconds >= 0 ? seconds : undefined);
}

/**
 * A call to the API. `credentials: 'omit'`: the page sends its token itself, and the browser
 * must not answer a 401's `WWW-Authenticate: Basic` with a password dialog of its own.
 * @param {string} path
 * @param {{ method?: string, headers?: Record<string, string>, body?: BodyInit, signedIn?: boolean }} [init]
 * @returns {Promise<Response>}
 */
async function api(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { ...init.headers };
  if (init.signedIn !== false && session !== undefined) {
    headers['Authorization'] = `Bearer ${session.token}`;
  }
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, {}, undefined);
  }
  if (response.ok) return response;
  throw apiError(response.status, await response.text(), response.headers.get('retry-after'));
}

/**
 * The message for a failed call, in words for people.
 * @param {unknown} error
 * @param {import('./messages.js').Action} action
 * @returns {string}
 */
function failureText(error, action) {
  if (!(error instanceof ApiError)) return `Something went wrong in this page: ${String(error)}`;
  return describeProblem(error.failure, action, { maxUploadBytes });
}

/** @param {unknown} error */
function isSessionOver(error) {
  return error instanceof ApiError && error.failure.status === 401;
}

/**
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
function readJson(response) {
  return response.json();
}

/**
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  return JSON.parse(text);
}

// ---- sign in and register ----

/** @param {string} text */
function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * @param {string} email
 * @param {string} password
 */
async function signIn(email, password) {
  const response = await api('/login', {
    method: 'POST',
    headers: {
      Authorization: `Basic ${base64Utf8(`${email}:${password}`)}`,
      Accept: 'application/json',
    },
    signedIn: false,
  });
  const body = /** @type {{ token: string, expiresAt: string }} */ (await readJson(response));
  startSession({ token: body.token, email, expiresAt: body.expiresAt });
  announce(`Signed in as ${email}.`);
  ui.convertTitle.focus();
}

ui.accountForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = /** @type {SubmitEvent} */ (event).submitter;
  const registering = submitter instanceof HTMLButtonElement && submitter.value === 'register';
  const email = ui.email.value.trim();
  const password = ui.password.value;
  if (email === '' || password === '') {
    show(ui.accountMessage, 'Enter your email and password.', 'error');
    (email === '' ? ui.email : ui.password).focus();
    return;
  }
  const buttons = ui.accountForm.querySelectorAll('button');
  for (const button of buttons) button.disabled = true;
  show(ui.accountMessage, registering ? 'Creating your account…' : 'Signing in…', 'busy');
  void enter(email, password, registering).finally(() => {
    for (const button of buttons) button.disabled = false;
  });
});

/**
 * Registers first when asked to, then signs in; says what went wrong otherwise.
 * @param {string} email
 * @param {string} password
 * @param {boolean} registering
 */
async function enter(email, password, registering) {
  /** @type {import('./messages.js').Action} */
  let action = 'register';
  try {
    if (registering) {
      await api('/register', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, password }),
        signedIn: false,
      });
    }
    action = 'sign-in';
    await signIn(email, password);
  } catch (error) {
    show(ui.accountMessage, failureText(error, action), 'error');
    ui.password.focus();
  }
}

ui.signOut.addEventListener('click', () => {
  endSession();
});

// ---- choosing and dropping a file ----

function fileChosen() {
  const file = ui.file.files?.[0];
  ui.fileChosen.textContent = file === undefined ? '' : `${file.name} (${formatBytes(file.size)})`;
  ui.dropZone.dataset['chosen'] = file === undefined ? 'false' : 'true';
}

ui.file.addEventListener('change', () => {
  fileChosen();
  show(ui.uploadMessage, '');
});

/** @param {DragEvent} event */
function carriesFiles(event) {
  return event.dataTransfer?.types.includes('Files') === true;
}

// A file dropped anywhere is taken (or refused while signed out): never opened by the browser
// in place of the page.
document.addEventListener('dragover', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  if (event.dataTransfer !== null) {
    event.dataTransfer.dropEffect = session === undefined ? 'none' : 'copy';
  }
  if (session !== undefined) document.body.dataset['dragging'] = 'true';
});
document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) delete document.body.dataset['dragging'];
});
document.addEventListener('drop', (event) => {
  delete document.body.dataset['dragging'];
  if (!carriesFiles(event)) return;
  event.preventDefault();
  if (session === undefined) return;
  const files = event.dataTransfer?.files;
  if (files === undefined || files.length === 0) return;
  if (files.length > 1) {
    show(ui.uploadMessage, 'Drop one file at a time.', 'error');
    return;
  }
  ui.file.files = files;
  fileChosen();
  show(ui.uploadMessage, '');
  ui.upload.focus();
});

// ---- uploading, with progress and cancel ----

/** @type {{ abort(): void } | undefined} */
let currentUpload;

/**
 * POSTs the form with XMLHttpRequest: fetch() cannot report how much of a body is sent.
 * @param {FormData} form
 * @param {(sent: number, total: number) => void} onProgress
 * @returns {{ done: Promise<Job>, abort(): void }}
 */
function sendUpload(form, onProgress) {
  const request = new XMLHttpRequest();
  const done = /** @type {Promise<Job>} */ (
    new Promise((resolve, reject) => {
      request.open('POST', '/upload');
      if (session !== undefined)
        request.setRequestHeader('Authorization', `Bearer ${session.token}`);
      request.setRequestHeader('Accept', 'application/json');
      request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      request.addEventListener('load', () => {
        if (request.status === 202) {
          try {
            resolve(/** @type {Job} */ (parseJson(request.responseText)));
          } catch {
            // Accepted, but the answer is unreadable (a proxy's page?): the list shows the job.
            reject(new ApiError(202, { detail: 'The upload was accepted.' }, undefined));
          }
        } else {
          reject(
            apiError(
              request.status,
              request.responseText,
              request.getResponseHeader('retry-after'),
            ),
          );
        }
      });
      request.addEventListener('error', () => {
        reject(new ApiError(0, {}, undefined));
      });
      request.addEventListener('abort', () => {
        reject(new DOMException('the upload was cancelled', 'AbortError'));
      });
      request.send(form);
    })
  );
  return {
    done,
    abort: () => {
      request.abort();
    },
  };
}

ui.uploadForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (currentUpload !== undefined) return;
  const file = ui.file.files?.[0];
  if (file === undefined) {
    show(ui.uploadMessage, 'Choose a video first, or drop one on the page.', 'error');
    ui.file.focus();
    return;
  }
  if (file.size === 0) {
    show(ui.uploadMessage, `${file.name} is empty: there is nothing to convert.`, 'error');
    return;
  }
  if (Number.isFinite(maxUploadBytes) && file.size > maxUploadBytes) {
    show(
      ui.uploadMessage,
      `${file.name} is larger than the limit of ${formatBytes(maxUploadBytes)}.`,
      'error',
    );
    return;
  }
  const form = new FormData();
  // The options before the file, as curl -F sends them.
  const [option, value] = ui.quality.value.split('=');
  if (option !== undefined && value !== undefined) form.append(option, value);
  form.append('file', file, file.name);

  show(ui.uploadMessage, '');
  ui.uploadLabel.textContent = `Uploading ${file.name}`;
  ui.uploadBar.value = 0;
  ui.uploadBar.max = file.size;
  ui.uploadBytes.textContent = `0 B of ${formatBytes(file.size)} sent`;
  ui.uploadProgress.hidden = false;
  ui.upload.disabled = true;
  const upload = sendUpload(form, (sent, total) => {
    // The request is the file and a little multipart framing around it.
    const fileSent = Math.min(Math.round((sent / total) * file.size), file.size);
    ui.uploadBar.value = fileSent;
    const percent = Math.floor((fileSent / file.size) * 100);
    ui.uploadBytes.textContent =
      sent >= total
        ? `${formatBytes(file.size)} sent; waiting for the server to store it…`
        : `${formatBytes(fileSent)} of ${formatBytes(file.size)} sent (${percent} %)`;
  });
  currentUpload = upload;
  ui.cancel.focus();
  // An answer that arrives after sign-out is not this page's business any more.
  const owner = session;
  upload.done
    .then((job) => {
      if (session !== owner) return;
      show(ui.uploadMessage, `${file.name} is uploaded and queued for conversion.`, 'success');
      ui.uploadForm.reset();
      fileChosen();
      listChanged();
      upsertJobs([job], { prepend: true });
      pollNow();
    })
    .catch((/** @type {unknown} */ error) => {
      if (session !== owner) return;
      if (error instanceof DOMException && error.name === 'AbortError') {
        show(ui.uploadMessage, `The upload of ${file.name} was cancelled.`);
        return;
      }
      if (isSessionOver(error)) {
        endSession(failureText(error, 'upload'));
        return;
      }
      show(ui.uploadMessage, failureText(error, 'upload'), 'error');
    })
    .finally(() => {
      if (currentUpload === upload) currentUpload = undefined;
      if (session !== owner) return;
      ui.uploadProgress.hidden = true;
      ui.upload.disabled = false;
      if (document.activeElement === ui.cancel || document.activeElement === document.body) {
        ui.upload.focus();
      }
    });
});

ui.cancel.addEventListener('click', () => {
  currentUpload?.abort();
});

// ---- the job list, kept live by polling ----

/** Rendered jobs by id: each item is updated in place, so a playing player keeps playing. */
/** @type {Map<string, JobItem>} */
const rendered = new Map();
let listLimit = PAGE_SIZE;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pollTimer;
let polling = false;
let pollAgain = false;
/**
 * Goes up whenever this page changes the list itself (an upload, a delete): a list asked for
 * before then may predate the change, and is asked for again instead of shown.
 */
let listEpoch = 0;
/** When a job shown last changed state or progress: a queue that stands still is polled less. */
let lastChange = Date.now();

function listChanged() {
  listEpoch += 1;
}

/**
 * @typedef {object} JobItem
 * @property {HTMLLIElement} item
 * @property {Job} job
 * @property {HTMLElement} name
 * @property {HTMLElement} status
 * @property {HTMLProgressElement} progress
 * @property {HTMLElement} meta
 * @property {HTMLElement} error
 * @property {HTMLElement} result
 * @property {HTMLAudioElement} audio
 * @property {HTMLAnchorElement} download
 * @property {HTMLButtonElement} remove
 */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} className
 * @returns {HTMLElementTagNameMap[K]}
 */
function element(tag, className) {
  const created = document.createElement(tag);
  created.className = className;
  return created;
}

/** @param {Job} job @returns {JobItem} */
function createItem(job) {
  const item = element('li', 'job');
  item.dataset['jobId'] = job.jobId;
  const head = element('div', 'job-head');
  const name = element('span', 'job-name');
  const status = element('span', 'job-status');
  head.append(name, status);
  const progress = element('progress', 'job-progress');
  progress.max = 100;
  const meta = element('p', 'job-meta');
  const error = element('p', 'job-error');
  const result = element('div', 'job-result');
  const audio = element('audio', 'job-audio');
  audio.controls = true;
  audio.preload = 'none';
  result.append(audio);
  const download = element('a', 'button job-download');
  download.textContent = 'Download MP3';
  const remove = element('button', 'secondary job-delete');
  remove.type = 'button';
  remove.textContent = 'Delete';
  const actions = element('div', 'job-actions');
  actions.append(download, remove);
  item.append(head, progress, meta, error, result, actions);
  /** @type {JobItem} */
  const entry = { item, job, name, status, progress, meta, error, result, audio, download, remove };
  remove.addEventListener('click', () => {
    deleteJob(entry);
  });
  download.addEventListener('click', (event) => {
    downloadClicked(entry, event);
  });
  // A link that expired while playing: the next range request fails; go on with the newest.
  audio.addEventListener('error', () => {
    if (
      entry.job.downloadUrl !== undefined &&
      audio.getAttribute('src') !== entry.job.downloadUrl
    ) {
      setSource(entry, entry.job, !audio.paused);
    }
  });
  return entry;
}

/**
 * Points the player at the job's newest link, where it was in the track.
 * @param {JobItem} entry
 * @param {Job} job
 * @param {boolean} resume play on, as it was playing
 */
function setSource(entry, job, resume) {
  if (job.downloadUrl === undefined) return;
  const { audio } = entry;
  const at = audio.currentTime;
  audio.src = job.downloadUrl;
  audio.dataset['expiresAt'] = job.downloadUrlExpiresAt ?? '';
  if (at > 0) audio.currentTime = at;
  if (resume) {
    audio.play().catch(() => {
      // Refused (no user gesture since): it waits for the play button.
    });
  }
}

/**
 * A download link that has expired (the tab was hidden for long, say) is renewed first.
 * @param {JobItem} entry
 * @param {MouseEvent} event
 */
function downloadClicked(entry, event) {
  const expires = Date.parse(entry.job.downloadUrlExpiresAt ?? '');
  if (expires - Date.now() > 5_000) return;
  event.preventDefault();
  const owner = session;
  api(`/jobs/${encodeURIComponent(entry.job.jobId)}`)
    .then((response) => readJson(response))
    .then((fresh) => {
      const job = /** @type {Job} */ (fresh);
      if (session !== owner || job.downloadUrl === undefined) return;
      updateItem(entry, job);
      location.assign(job.downloadUrl);
    })
    .catch((/** @type {unknown} */ error) => {
      if (session !== owner) return;
      if (isSessionOver(error)) {
        endSession(failureText(error, 'list'));
        return;
      }
      show(ui.jobsMessage, failureText(error, 'list'), 'error');
    });
}

/** @param {JobItem} entry @param {Job} job */
function updateItem(entry, job) {
  const previous = entry.job.status;
  if (previous !== job.status || entry.job.progress !== job.progress) lastChange = Date.now();
  entry.job = job;
  entry.item.dataset['status'] = job.status;
  entry.name.textContent = job.filename;
  entry.status.textContent = jobStatusText(job);
  entry.progress.hidden = job.status !== 'queued' && job.status !== 'converting';
  entry.progress.setAttribute('aria-label', `Conversion of ${job.filename}`);
  if (job.status === 'converting') entry.progress.value = job.progress;
  else entry.progress.removeAttribute('value'); // indeterminate while queued
  const details = [optionsText(job.options), `video ${formatBytes(job.videoSize)}`];
  if (job.mp3Size !== undefined) details.push(`MP3 ${formatBytes(job.mp3Size)}`);
  details.push(`uploaded ${new Date(job.createdAt).toLocaleString()}`);
  entry.meta.textContent = details.join(' · ');
  entry.error.hidden = job.status !== 'failed';
  entry.error.textContent = job.status === 'failed' ? (job.error ?? 'The conversion failed.') : '';
  const done = job.status === 'done' && job.downloadUrl !== undefined;
  entry.result.hidden = !done;
  entry.download.hidden = !done;
  if (done && job.downloadUrl !== undefined) {
    entry.download.href = job.downloadUrl;
    entry.download.setAttribute('download', job.mp3Filename ?? '');
    entry.download.setAttribute('aria-label', `Download the MP3 of ${job.filename}`);
    entry.audio.setAttribute('aria-label', `Listen to ${job.filename}`);
    // A new link for a paused player only, and only once the one it has is about to expire:
    // changing the source of a playing player would interrupt it. One that is playing when its
    // link expires takes the newest link when its next request fails (see createItem).
    const expires = Date.parse(entry.audio.dataset['expiresAt'] ?? '');
    const stale = !(expires - Date.now() > LINK_RENEW_MS);
    if (entry.audio.getAttribute('src') === null || (stale && entry.audio.paused)) {
      setSource(entry, job, false);
    }
  }
  entry.remove.setAttribute('aria-label', `Delete ${job.filename}`);
  if (previous !== job.status && (job.status === 'done' || job.status === 'failed')) {
    announce(
      job.status === 'done'
        ? `${job.filename} is converted: it is ready to play and download.`
        : `${job.filename} could not be converted: ${job.error ?? 'the conversion failed'}.`,
    );
  }
}

/**
 * Renders the list the server gave, newest first: new items are inserted, gone ones removed,
 * and items already in place are never moved (moving a player would pause it).
 * @param {Job[]} jobs
 */
function renderJobs(jobs) {
  const seen = new Set(jobs.map((job) => job.jobId));
  for (const [id, entry] of rendered) {
    if (!seen.has(id)) {
      entry.item.remove();
      rendered.delete(id);
    }
  }
  upsertJobs(jobs, { prepend: false });
}

/**
 * @param {Job[]} jobs newest first
 * @param {{ prepend: boolean }} options prepend: jobs to put at the top (a fresh upload)
 */
function upsertJobs(jobs, { prepend }) {
  jobs.forEach((job, index) => {
    let entry = rendered.get(job.jobId);
    if (entry === undefined) {
      entry = createItem(job);
      rendered.set(job.jobId, entry);
      lastChange = Date.now();
    }
    updateItem(entry, job);
    const at = prepend ? ui.jobs.firstElementChild : ui.jobs.children.item(index);
    if (at !== entry.item) ui.jobs.insertBefore(entry.item, at);
  });
  ui.jobsEmpty.hidden = rendered.size > 0;
}

function anyActive() {
  for (const { job } of rendered.values()) {
    if (job.status === 'queued' || job.status === 'converting') return true;
  }
  return false;
}

/** @param {number} delay */
function schedulePoll(delay) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(pollNow, delay);
}

/** Asks for the list now, or right after the request under way (never two at once). */
function pollNow() {
  clearTimeout(pollTimer);
  if (session === undefined) return;
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  const asked = session;
  void poll(asked)
    .then((delay) => {
      if (session !== asked) return;
      // A hidden tab is not polled; it catches up when it is shown again.
      if (!document.hidden) schedulePoll(delay);
    })
    .finally(() => {
      polling = false;
      if (pollAgain) {
        pollAgain = false;
        pollNow();
      }
    });
}

/**
 * One look at the list; resolves to the delay before the next.
 * @param {Session} asked
 * @returns {Promise<number>}
 */
async function poll(asked) {
  const epoch = listEpoch;
  try {
    const response = await api(`/jobs?limit=${listLimit}`);
    const body = /** @type {{ jobs: Job[], nextCursor?: string }} */ (await readJson(response));
    if (session !== asked) return IDLE_POLL_MS;
    if (listEpoch !== epoch) return 0;
    renderJobs(body.jobs);
    const moreWasFocused = document.activeElement === ui.more;
    ui.more.hidden = body.nextCursor === undefined || listLimit >= MAX_PAGE_SIZE;
    if (moreWasFocused && ui.more.hidden) ui.jobsTitle.focus();
    show(ui.jobsStatus, '');
    if (!anyActive()) return IDLE_POLL_MS;
    return Date.now() - lastChange > STALLED_AFTER_MS ? STALLED_POLL_MS : ACTIVE_POLL_MS;
  } catch (error) {
    if (session !== asked) return IDLE_POLL_MS;
    if (isSessionOver(error)) {
      endSession(failureText(error, 'list'));
      return IDLE_POLL_MS;
    }
    show(ui.jobsStatus, failureText(error, 'list'), 'error');
    const seconds = error instanceof ApiError ? error.failure.retryAfterSeconds : undefined;
    return seconds === undefined ? ERROR_POLL_MS : Math.max(seconds * 1000, ACTIVE_POLL_MS);
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) pollNow();
});

ui.more.addEventListener('click', () => {
  listLimit = Math.min(listLimit + PAGE_SIZE, MAX_PAGE_SIZE);
  pollNow();
});

/** @param {JobItem} entry */
function deleteJob(entry) {
  const { job } = entry;
  const owner = session;
  entry.remove.disabled = true;
  api(`/jobs/${encodeURIComponent(job.jobId)}`, { method: 'DELETE' })
    .catch((/** @type {unknown} */ error) => {
      // Already gone (deleted in another tab, say): what the user wanted.
      if (error instanceof ApiError && error.failure.status === 404) return;
      throw error;
    })
    .then(() => {
      if (session !== owner) return;
      listChanged();
      // Focus moves on to the next item's Delete button, or to the heading.
      const next = entry.item.nextElementSibling ?? entry.item.previousElementSibling;
      entry.audio.pause();
      entry.item.remove();
      rendered.delete(job.jobId);
      ui.jobsEmpty.hidden = rendered.size > 0;
      show(ui.jobsMessage, `${job.filename} is deleted.`, 'success');
      const button = next?.querySelector('button.job-delete');
      (button instanceof HTMLButtonElement ? button : ui.jobsTitle).focus();
    })
    .catch((/** @type {unknown} */ error) => {
      if (session !== owner) return;
      entry.remove.disabled = false;
      if (isSessionOver(error)) {
        endSession(failureText(error, 'delete'));
        return;
      }
      show(ui.jobsMessage, failureText(error, 'delete'), 'error');
    });
}

// ---- start ----

const resumed = storedSession();
if (resumed !== undefined && Date.parse(resumed.expiresAt) > Date.now()) {
  startSession(resumed);
} else {
  store((tab) => {
    tab.removeItem(SESSION_KEY);
  });
  ui.account.hidden = false;
  show(ui.accountMessage, '');
}
