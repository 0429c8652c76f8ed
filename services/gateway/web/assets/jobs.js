// @ts-check
// The job list, kept live by polling: each job rendered in place with its progress, player,
// download link and Delete button.

import { ApiError, api, failureText, isSessionOver, readJson } from './api.js';
import { formatBytes, jobStatusText, optionsText } from './messages.js';
import { announce, byId, show } from './page.js';
import { currentSession, endSession } from './session.js';

/** @typedef {import('./messages.js').Job} Job */
/** @typedef {import('./session.js').Session} Session */

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

const jobsSection = byId('jobs-section', HTMLElement);
const jobsTitle = byId('jobs-title', HTMLHeadingElement);
const jobsMessage = byId('jobs-message', HTMLParagraphElement);
const jobsStatus = byId('jobs-status', HTMLParagraphElement);
const jobsEmpty = byId('jobs-empty', HTMLParagraphElement);
const list = byId('jobs', HTMLOListElement);
const more = byId('more', HTMLButtonElement);

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

/** Shows the list of the session just started, from its first page. */
export function startJobs() {
  jobsSection.hidden = false;
  listLimit = PAGE_SIZE;
  pollNow();
}

/** Stops polling and forgets the list: nothing of it is left for whoever signs in next. */
export function stopJobs() {
  clearTimeout(pollTimer);
  for (const entry of rendered.values()) entry.audio.pause();
  list.replaceChildren();
  rendered.clear();
  jobsEmpty.hidden = true;
  more.hidden = true;
  show(jobsMessage, '');
  show(jobsStatus, '');
  jobsSection.hidden = true;
}

/** This page changed the list itself (an upload, a delete). */
export function listChanged() {
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
  const owner = currentSession();
  api(`/jobs/${encodeURIComponent(entry.job.jobId)}`)
    .then((response) => readJson(response))
    .then((fresh) => {
      const job = /** @type {Job} */ (fresh);
      if (currentSession() !== owner || job.downloadUrl === undefined) return;
      updateItem(entry, job);
      location.assign(job.downloadUrl);
    })
    .catch((/** @type {unknown} */ error) => {
      if (currentSession() !== owner) return;
      if (isSessionOver(error)) {
        endSession(failureText(error, 'list'));
        return;
      }
      show(jobsMessage, failureText(error, 'list'), 'error');
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
export function upsertJobs(jobs, { prepend }) {
  jobs.forEach((job, index) => {
    let entry = rendered.get(job.jobId);
    if (entry === undefined) {
      entry = createItem(job);
      rendered.set(job.jobId, entry);
      lastChange = Date.now();
    }
    updateItem(entry, job);
    const at = prepend ? list.firstElementChild : list.children.item(index);
    if (at !== entry.item) list.insertBefore(entry.item, at);
  });
  jobsEmpty.hidden = rendered.size > 0;
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
export function pollNow() {
  clearTimeout(pollTimer);
  const asked = currentSession();
  if (asked === undefined) return;
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  void poll(asked)
    .then((delay) => {
      if (currentSession() !== asked) return;
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
    if (currentSession() !== asked) return IDLE_POLL_MS;
    if (listEpoch !== epoch) return 0;
    renderJobs(body.jobs);
    const moreWasFocused = document.activeElement === more;
    more.hidden = body.nextCursor === undefined || listLimit >= MAX_PAGE_SIZE;
    if (moreWasFocused && more.hidden) jobsTitle.focus();
    show(jobsStatus, '');
    if (!anyActive()) return IDLE_POLL_MS;
    return Date.now() - lastChange > STALLED_AFTER_MS ? STALLED_POLL_MS : ACTIVE_POLL_MS;
  } catch (error) {
    if (currentSession() !== asked) return IDLE_POLL_MS;
    if (isSessionOver(error)) {
      endSession(failureText(error, 'list'));
      return IDLE_POLL_MS;
    }
    show(jobsStatus, failureText(error, 'list'), 'error');
    const seconds = error instanceof ApiError ? error.failure.retryAfterSeconds : undefined;
    return seconds === undefined ? ERROR_POLL_MS : Math.max(seconds * 1000, ACTIVE_POLL_MS);
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) pollNow();
});

more.addEventListener('click', () => {
  listLimit = Math.min(listLimit + PAGE_SIZE, MAX_PAGE_SIZE);
  pollNow();
});

/** @param {JobItem} entry */
function deleteJob(entry) {
  const { job } = entry;
  const owner = currentSession();
  entry.remove.disabled = true;
  api(`/jobs/${encodeURIComponent(job.jobId)}`, { method: 'DELETE' })
    .catch((/** @type {unknown} */ error) => {
      // Already gone (deleted in another tab, say): what the user wanted.
      if (error instanceof ApiError && error.failure.status === 404) return;
      throw error;
    })
    .then(() => {
      if (currentSession() !== owner) return;
      listChanged();
      // Focus moves on to the next item's Delete button, or to the heading.
      const next = entry.item.nextElementSibling ?? entry.item.previousElementSibling;
      entry.audio.pause();
      entry.item.remove();
      rendered.delete(job.jobId);
      jobsEmpty.hidden = rendered.size > 0;
      show(jobsMessage, `${job.filename} is deleted.`, 'success');
      const button = next?.querySelector('button.job-delete');
      (button instanceof HTMLButtonElement ? button : jobsTitle).focus();
    })
    .catch((/** @type {unknown} */ error) => {
      if (currentSession() !== owner) return;
      entry.remove.disabled = false;
      if (isSessionOver(error)) {
        endSession(failureText(error, 'delete'));
        return;
      }
      show(jobsMessage, failureText(error, 'delete'), 'error');
    });
}
