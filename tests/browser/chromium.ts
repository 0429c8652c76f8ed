// Debian's Chromium, driven by playwright-core: a test tool's own browser download
// (`npx playwright install`) does not work where the tests run.

import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext } from 'playwright-core';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave what a person may want to look at (screenshots). */
export const ARTIFACTS_DIR = join(ROOT, '.local', 'test-artifacts');

/**
 * Installs Debian's `chromium` package when the browser is missing, with the same apt helper
 * the scripts use (it keeps the package's install scripts from starting services).
 */
export async function ensureChromium(): Promise<void> {
  try {
    await access(CHROMIUM);
    return;
  } catch {
    // Missing: install it below.
  }
  await run(
    'bash',
    ['-euo', 'pipefail', '-c', 'source scripts/lib/common.sh && apt_install chromium'],
    { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );
  await access(CHROMIUM);
}

/** A headless Chromium with a new, empty profile; close() removes the profile and downloads. */
export interface Browser {
  context: BrowserContext;
  downloads: string;
  close(): Promise<void>;
}

/**
 * The flags this machine needs: without the background-networking ones Chromium floods the
 * closed network with connections that are refused.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  await ensureChromium();
  const dir = await mkdtemp(join(tmpdir(), 'mp3test-browser-'));
  const profile = join(dir, 'profile');
  const downloads = join(dir, 'downloads');
  await mkdir(profile);
  await mkdir(downloads);
  try {
    // A persistent context is how a profile directory of our own is given (--user-data-dir).
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      acceptDownloads: true,
      downloadsPath: downloads,
      viewport: { width: 1024, height: 768 },
    });
    return {
      context,
      downloads,
      close: async () => {
        await context.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
