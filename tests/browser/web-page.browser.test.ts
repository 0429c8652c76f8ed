// The web page in a real browser (Debian's Chromium through playwright-core) against the four
// services as processes: sign up, upload with a progress bar, follow the job live, listen,
// download, delete; a failed conversion and its reason; every kind of error in words; the
// keyboard alone on a phone-sized screen. A screenshot of the job list is kept as an artifact.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { generateMedia, probeMedia, waitFor } from '@mp3converter/testkit';
import type { Page } from 'playwright-core';
import { ARTIFACTS_DIR, launchBrowser, type Browser } from './chromium.ts';
import { EndToEndSystem, MAX_UPLOAD_BYTES } from '../e2e/system.ts';

const PASSWORD = 'a long enough web password';
const CLIP_SECONDS = 12;

let system: EndToEndSystem;
let browser: Browser;
let dir: string;
let clip: string;
let notes: string;

/** What before() started, undone in reverse by after(), whatever step failed. */
const started: (() => Promise<unknown>)[] = [];

before(
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp3test-web-'));
    started.push(() => rm(dir, { recursive: true, force: true }));
    clip = join(dir, 'clip.mp4');
    notes = join(dir, 'notes.txt');
    await generateMedia(clip, { container: 'mp4', seconds: CLIP_SECONDS });
    await writeFile(notes, 'These are my notes, not a video.\n');
    // One upload at a time, so that a held upload makes the server busy for the page.
    system = await EndToEndSystem.start({ env: { gateway: { MAX_CONCURRENT_UPLOADS: '1' } } });
    started.push(() => system.stop());
    started.push(() => system.assertClean());
    // Closed first: no page is still at work while the system is checked and stopped.
    browser = await launchBrowser();
    started.push(() => browser.close());
    // Room for installing Chromium on a fresh machine (apt), beyond the tests' own time limit.
  },
  { timeout: 900_000 },
);

after(async () => {
  const errors: unknown[] = [];
  for (const undo of started.reverse()) await undo().catch((error: unknown) => errors.push(error));
  if (errors.length > 0) throw new AggregateError(errors, 'after the browser tests');
});

interface Watched {
  page: Page;
  /** Every URL the page asked for. */
  urls: string[];
  /** Script errors and console errors: a page that works has none. */
  errors: string[];
  dialogs: string[];
}

/** The pages a test opened, closed after it whether it passed or not. */
const pages: Page[] = [];

afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
});

async function openPage(viewport = { width: 1024, height: 768 }): Promise<Watched> {
  const page = await browser.context.newPage();
  pages.push(page);
  await page.setViewportSize(viewport);
  const watched: Watched = { page, urls: [], errors: [], dialogs: [] };
  page.on('request', (request) => watched.urls.push(request.url()));
  page.on('pageerror', (error) => watched.errors.push(String(error)));
  page.on('console', (message) => {
    // A refused request is logged by Chromium itself; the tests that cause them say so.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      watched.errors.push(message.text());
    }
  });
  page.on('dialog', (dialog) => {
    watched.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(system.url);
  // Each module by the URL with its content hash that the import map gives: a module asked for
  // by its plain URL means the map was refused (the CSP's hash of it is wrong, say).
  const modules = watched.urls.filter((url) => new URL(url).pathname.endsWith('.js'));
  assert.ok(modules.length > 2, `the page loaded only ${modules.join(', ')}`);
  assert.deepEqual(
    modules.filter((url) => !/\/assets\/[\w.-]+\.js\?v=[0-9a-f]{16}$/.test(url)),
    [],
    'modules not loaded by their hashed URL',
  );
  assert.deepEqual(watched.errors, [], 'the page loads without an error (a CSP violation, say)');
  return watched;
}

/**
 * DevTools throttling of the page's uplink, in bytes per second (-1: none). One DevTools
 * session per page, kept open: the conditions end with the session that set them, and a
 * second session's do not reliably apply after a first one's ended.
 */
interface Uplink {
  limit(bytesPerSecond: number): Promise<void>;
}

async function uplink(page: Page): Promise<Uplink> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  return {
    limit: async (bytesPerSecond) => {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    },
  };
}

/** Waits until the upload bar shows part of the file sent. */
async function uploadUnderWay(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const progress = document.querySelector<HTMLProgressElement>('#upload-bar');
    return progress !== null && progress.value > 0 && progress.value < progress.max;
  });
}

function newEmail(): string {
  const email = `web-${randomBytes(6).toString('hex')}@example.com`;
  system.addresses.add(email); // its emails are removed from the mailbox at the end
  return email;
}

async function signUp(page: Page, email = newEmail()): Promise<string> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#who-email').getByText(email, { exact: true }).waitFor();
  return email;
}

async function tokenOf(page: Page): Promise<string> {
  const stored = await page.evaluate(() => sessionStorage.getItem('mp3converter.session'));
  assert.ok(stored !== null, 'no session in sessionStorage');
  return (JSON.parse(stored) as { token: string }).token;
}

function jobItem(page: Page, filename: string) {
  return page.locator('li.job', { has: page.locator('.job-name', { hasText: filename }) });
}

/** The message the page ends with in `#id` (not one that says the work is under way). */
async function message(page: Page, id: string): Promise<string> {
  const element = page.locator(`#${id}`);
  await element
    .locator('xpath=self::*[normalize-space(.) != "" and @data-kind != "busy"]')
    .waitFor();
  return (await element.textContent()) ?? '';
}

describe('the web page, in Chromium', () => {
  it('signs up, uploads with a progress bar, follows the job to done live, plays, downloads and deletes it', async () => {
    const { page, urls, errors, dialogs } = await openPage();
    const email = await signUp(page);
    const token = await tokenOf(page);
    // The token lives in this tab's sessionStorage only: no cookie, nothing in localStorage.
    assert.deepEqual(await page.evaluate(() => [document.cookie, localStorage.length]), ['', 0]);

    // Marks this document: a reload would lose the mark. The observer notes every status shown.
    await page.evaluate(() => {
      const seen: string[] = [];
      Object.assign(window, { sameDocument: true, statuses: seen });
      const list = document.getElementById('jobs');
      if (list === null) throw new Error('no job list');
      new MutationObserver(() => {
        const status = list.querySelector('li')?.dataset['status'];
        if (status !== undefined && seen.at(-1) !== status) seen.push(status);
      }).observe(list, { subtree: true, childList: true, attributes: true });
    });

    // A slow uplink, so that the upload takes a few seconds.
    const size = (await stat(clip)).size;
    const network = await uplink(page);
    await network.limit(Math.ceil(size / 4));
    await page.getByLabel('Choose a video').setInputFiles(clip);
    await page.getByLabel('MP3 quality').selectOption('quality=2');
    await page.getByRole('button', { name: 'Upload and convert' }).click();

    // Part way: the bar and the words say how much is sent, and Cancel is offered.
    const bar = page.getByRole('progressbar', { name: 'Uploading clip.mp4' });
    await uploadUnderWay(page);
    assert.equal(Number(await bar.getAttribute('max')), size);
    assert.match(
      (await page.locator('#upload-bytes').textContent()) ?? '',
      /^[\d.]+ (B|KiB|MiB) of [\d.]+ (KiB|MiB) sent \(\d+ %\)$/,
    );
    assert.ok(await page.getByRole('button', { name: 'Cancel upload' }).isVisible());
    assert.match(await message(page, 'upload-message'), /clip\.mp4 is uploaded and queued/);
    await network.limit(-1);

    const item = jobItem(page, 'clip.mp4');
    await item.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    const jobId = (await item.getAttribute('data-job-id')) ?? '';
    const [job] = await system.assertSettled([{ jobId, email }]);
    assert.equal(job?.status, 'done');
    assert.deepEqual(job.options, { vbr_quality: 2 });
    // Followed without a reload, through the states before done.
    const seen = await page.evaluate(() => ({
      same: (window as unknown as { sameDocument?: boolean }).sameDocument,
      statuses: (window as unknown as { statuses: string[] }).statuses,
    }));
    assert.equal(seen.same, true);
    assert.equal(seen.statuses.at(-1), 'done');
    assert.ok(seen.statuses.length >= 2, `only ${seen.statuses.join(', ')} was shown`);
    assert.match(
      (await item.locator('.job-status').textContent()) ?? '',
      /^Done: 0:\d\d$/,
      'the duration is shown',
    );

    // The player loads the MP3 through the signed link, not through the token.
    const audio = item.getByLabel('Listen to clip.mp4');
    const src = (await audio.getAttribute('src')) ?? '';
    assert.match(src, /^\/download\?fid=[0-9a-f]{24}&expires=\d+&sig=/);
    const duration = await audio.evaluate(async (player: HTMLAudioElement) => {
      player.preload = 'metadata';
      player.load();
      await new Promise((resolve, reject) => {
        player.addEventListener('loadedmetadata', resolve, { once: true });
        player.addEventListener(
          'error',
          () => {
            reject(new Error(player.error?.message));
          },
          { once: true },
        );
      });
      return player.duration;
    });
    assert.ok(Math.abs(duration - CLIP_SECONDS) < 0.5, `the player says ${duration} s`);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      item.getByRole('link', { name: 'Download the MP3 of clip.mp4' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'clip.mp3');
    const probed = await probeMedia(await download.path());
    assert.equal(probed.formatName, 'mp3');
    assert.ok(Math.abs(probed.durationSeconds - CLIP_SECONDS) < 0.5);

    await item.getByRole('button', { name: 'Delete clip.mp4' }).click();
    await item.waitFor({ state: 'detached' });
    assert.match(await message(page, 'jobs-message'), /clip\.mp4 is deleted/);
    assert.equal(await system.jobs.find(jobId), undefined, 'the job is gone');
    assert.deepEqual(await listedJobs(token), []);

    assert.deepEqual(
      urls.filter((url) => url.includes(token)),
      [],
      'no URL carries the token',
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(dialogs, []);
  });

  it('shows why a text file could not be converted, beside a converted clip (the screenshot)', async () => {
    const { page, errors } = await openPage();
    const email = await signUp(page);
    await page.getByLabel('Choose a video').setInputFiles(clip);
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    await message(page, 'upload-message');
    // This one is dropped on the page, as a file dragged from the desktop.
    const dropped = await page.evaluateHandle(
      ([name, text]) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], name, { type: 'text/plain' }));
        return transfer;
      },
      ['notes.txt', await readFile(notes, 'utf8')] as const,
    );
    await page.dispatchEvent('main', 'dragover', { dataTransfer: dropped });
    await page.dispatchEvent('main', 'drop', { dataTransfer: dropped });
    assert.match(
      (await page.locator('#file-chosen').textContent()) ?? '',
      /^notes\.txt \(\d+ B\)$/,
    );
    await page.getByRole('button', { name: 'Upload and convert' }).click();

    const failed = jobItem(page, 'notes.txt');
    await failed.and(page.locator('[data-status="failed"]')).waitFor({ timeout: 60_000 });
    const done = jobItem(page, 'clip.mp4');
    await done.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    const failedId = (await failed.getAttribute('data-job-id')) ?? '';
    const doneId = (await done.getAttribute('data-job-id')) ?? '';
    const [failedJob] = await system.assertSettled([
      { jobId: failedId, email },
      { jobId: doneId, email },
    ]);
    // The reason the converter gave, in the page's words for it.
    const reason = failedJob?.error?.message ?? '';
    assert.ok(reason.length > 0);
    assert.equal(await failed.locator('.job-error').textContent(), reason);
    assert.equal(await failed.locator('.job-status').textContent(), 'Failed');
    assert.equal(await failed.getByRole('link').count(), 0, 'nothing to download');
    // Newest first.
    const order = await page.locator('li.job .job-name').allTextContents();
    assert.deepEqual(order, ['notes.txt', 'clip.mp4']);

    await mkdir(ARTIFACTS_DIR, { recursive: true });
    const screenshot = join(ARTIFACTS_DIR, 'web-page-jobs.png');
    await page.locator('#jobs-section').screenshot({ path: screenshot });
    assert.ok((await stat(screenshot)).size > 1000);

    for (const item of [failed, done]) await item.getByRole('button', { name: /^Delete / }).click();
    await page.locator('#jobs-empty').waitFor();
    assert.deepEqual(errors, []);
  });

  it('says in words what went wrong: wrong password, taken email, too large, server busy, session over', async () => {
    const { page, urls, dialogs } = await openPage();
    const email = await signUp(page);
    const token = await tokenOf(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign-out forgets the token');
    assert.equal(await message(page, 'account-message'), 'You are signed out.');

    // A wrong password: said in words, and no browser password dialog.
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong email or password.').waitFor();
    assert.deepEqual(dialogs, []);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('An account with this email exists already: sign in instead.').waitFor();

    await page.getByLabel('Email').fill(newEmail());
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    assert.match(await message(page, 'account-message'), /^Check what you entered: password: /);

    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#who-email').getByText(email, { exact: true }).waitFor();

    // Larger than the gateway's limit: refused before a byte is sent.
    await page.getByLabel('Choose a video').setInputFiles({
      name: 'huge.mp4',
      mimeType: 'video/mp4',
      buffer: Buffer.alloc(MAX_UPLOAD_BYTES + 1),
    });
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    assert.equal(
      await message(page, 'upload-message'),
      'huge.mp4 is larger than the limit of 24.0 MiB.',
    );
    assert.ok(!urls.some((url) => url.endsWith('/upload')), 'the page did not send it');

    // Busy: another upload holds the gateway's only slot (MAX_CONCURRENT_UPLOADS=1).
    const held = await holdUploadSlot(token);
    try {
      await page.getByLabel('Choose a video').setInputFiles(clip);
      await page.getByRole('button', { name: 'Upload and convert' }).click();
      assert.match(
        await message(page, 'upload-message'),
        /^The server is busy with other uploads\. Try again in (\d+ seconds|a moment)\.$/,
      );
    } finally {
      const aborted = await uploads('aborted');
      held.destroy();
      // Counted once the gateway has removed what it stored: the next test starts clean.
      await waitFor(async () => (await uploads('aborted')) > aborted, {
        timeoutMs: 10_000,
        what: 'the held upload counted aborted',
      });
    }

    // A token that is no longer good: back to the sign-in form, saying why.
    await page.evaluate(() => {
      const key = 'mp3converter.session';
      const session = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { token: string };
      sessionStorage.setItem(key, JSON.stringify({ ...session, token: `${session.token}x` }));
    });
    await page.reload();
    assert.equal(
      await message(page, 'account-message'),
      'You are not signed in, or your session is no longer valid. Sign in again.',
    );
    assert.ok(await page.getByLabel('Email').isVisible());
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  it('cancels an upload under way, or on sign-out, and the server keeps nothing of either', async () => {
    const { page, errors } = await openPage();
    await signUp(page);
    const token = await tokenOf(page);
    const aborted = await uploads('aborted');
    const size = (await stat(clip)).size;
    const network = await uplink(page);
    await network.limit(Math.ceil(size / 20));
    await page.getByLabel('Choose a video').setInputFiles(clip);
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    await uploadUnderWay(page);
    await page.getByRole('button', { name: 'Cancel upload' }).click();
    assert.equal(await message(page, 'upload-message'), 'The upload of clip.mp4 was cancelled.');
    assert.ok(await page.locator('#upload-progress').isHidden());
    // The gateway saw the client go and removed what it had stored of the file.
    await waitFor(async () => (await uploads('aborted')) > aborted, {
      timeoutMs: 10_000,
      what: 'the gateway counting the upload aborted',
    });
    assert.deepEqual(await listedJobs(token), []);
    assert.equal(await page.locator('li.job').count(), 0);

    // Signing out stops an upload too, and leaves nothing of it for the next person.
    const before = await uploads('aborted');
    const accepted = await uploads('accepted');
    await page.getByLabel('Choose a video').setInputFiles(clip);
    await page.getByLabel('MP3 quality').selectOption('bitrate=320');
    await page.getByRole('button', { name: 'Upload and convert' }).click();
    await uploadUnderWay(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Throttled until the gateway has seen the client go: DevTools throttling lifted from a
    // request already cancelled lets it finish.
    await waitFor(async () => (await uploads('aborted')) > before, {
      timeoutMs: 10_000,
      what: 'the upload cut off by signing out counted aborted',
    });
    await network.limit(-1);
    assert.equal(await uploads('accepted'), accepted, 'the upload was not finished');
    await signUp(page);
    await page.locator('#jobs-empty').waitFor();
    assert.equal(await page.locator('#upload-message').textContent(), '');
    assert.equal(await page.locator('#file-chosen').textContent(), '');
    assert.equal(await page.getByLabel('MP3 quality').inputValue(), '');
    assert.ok(await page.locator('#upload-progress').isHidden());
    assert.ok(await page.getByRole('button', { name: 'Upload and convert' }).isEnabled());
    assert.deepEqual(errors, []);
  });

  it('works with the keyboard alone on a phone-sized screen, a long file name included', async () => {
    const { page, errors } = await openPage({ width: 360, height: 740 });
    const name = `${'a-holiday-video-with-a-name-that-goes-on-'.repeat(3)}and-on.mp4`;
    const email = newEmail();
    // Every field has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')]
        .filter((field) => (field as HTMLInputElement).labels?.length === 0)
        .map((field) => field.id),
    );
    assert.deepEqual(unlabelled, []);

    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');
    const tabTo = async (id: string, most = 10): Promise<void> => {
      for (let n = 0; n < most && (await focused()) !== id; n++) await page.keyboard.press('Tab');
      assert.equal(await focused(), id, `Tab did not reach #${id}`);
    };
    await tabTo('email');
    await page.keyboard.type(email);
    await tabTo('password');
    await page.keyboard.type(PASSWORD);
    await tabTo('register');
    await page.keyboard.press('Enter');
    await page.locator('#who-email').getByText(email, { exact: true }).waitFor();

    await tabTo('file');
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.keyboard.press('Space'),
    ]);
    await chooser.setFiles({ name, mimeType: 'video/mp4', buffer: await readFile(clip) });
    await tabTo('quality');
    await page.keyboard.press('ArrowDown'); // 64 kbit/s
    await tabTo('upload');
    await page.keyboard.press('Enter');
    const item = jobItem(page, name);
    await item.and(page.locator('[data-status="done"]')).waitFor({ timeout: 60_000 });
    const jobId = (await item.getAttribute('data-job-id')) ?? '';
    const [job] = await system.assertSettled([{ jobId, email }]);
    assert.deepEqual(job?.options, { bitrate_kbps: 64 });

    // Nothing wider than the screen, the long name included.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);

    const download = item.getByRole('link', { name: `Download the MP3 of ${name}` });
    await download.focus();
    const [saved] = await Promise.all([
      page.waitForEvent('download'),
      page.keyboard.press('Enter'),
    ]);
    assert.equal(saved.suggestedFilename(), name.replace(/\.mp4$/, '.mp3'));
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      `Delete ${name}`,
    );
    await page.keyboard.press('Enter');
    await item.waitFor({ state: 'detached' });
    // Focus does not fall off the page: it goes to the list's heading.
    assert.equal(await focused(), 'jobs-title');
    await waitFor(async () => (await system.jobs.find(jobId)) === undefined, {
      timeoutMs: 10_000,
      what: 'the job removed',
    });
    assert.deepEqual(errors, []);
  });
});

/**
 * Starts an upload that sends a few bytes and then nothing, and waits until the gateway is
 * reading it: it then holds an upload slot until the socket is destroyed.
 */
async function holdUploadSlot(token: string): Promise<Socket> {
  const before = await uploadedBytes();
  const url = new URL(system.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined); // destroyed by the test
  const boundary = 'held-upload-boundary';
  const head = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="held.mp4"',
    'Content-Type: video/mp4',
    '',
    'the first bytes of a video that never comes',
  ].join('\r\n');
  socket.write(
    [
      'POST /upload HTTP/1.1',
      `Host: ${url.host}`,
      `Authorization: Bearer ${token}`,
      `Content-Type: multipart/form-data; boundary=${boundary}`,
      'Content-Length: 1000000',
      '',
      head,
    ].join('\r\n'),
  );
  await waitFor(async () => (await uploadedBytes()) > before, {
    timeoutMs: 10_000,
    what: 'the gateway reading the held upload',
  });
  return socket;
}

/** A sample of the gateway's Prometheus metrics, by its series as written (0 if absent). */
async function metric(series: string): Promise<number> {
  const metrics = await (await fetch(`${system.url}/metrics`)).text();
  const line = metrics.split('\n').find((text) => text.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? 0);
}

async function uploadedBytes(): Promise<number> {
  return metric('upload_bytes_total');
}

/** The gateway's count of uploads that ended with `outcome`. */
async function uploads(outcome: 'accepted' | 'aborted'): Promise<number> {
  return metric(`uploads_total{outcome="${outcome}"}`);
}

/** The user's jobs, as the API lists them. */
async function listedJobs(token: string): Promise<unknown[]> {
  return (await system.api.as(token).listJobs()).body.jobs;
}
