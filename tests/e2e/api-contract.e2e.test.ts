// The API's document and its server cannot drift apart: schemathesis (installed by
// scripts/lib/infra.sh) generates requests from /openapi.json, the document allows and the
// document forbids, follows its links from an upload to the job and its MP3, and checks every
// answer against the document.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EndToEndSystem, type User } from './system.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Fixed, so that a run is reproducible and a failure can be replayed. */
const SEED = 20261206;
const EXAMPLES_PER_OPERATION = 40;

let system: EndToEndSystem;
let user: User;
let reports: string;

/** The `st` the scripts installed, where scripts/lib/infra.sh puts it. */
async function schemathesis(): Promise<string> {
  const { stdout } = await run(
    'bash',
    [
      '-c',
      'source scripts/lib/common.sh && source scripts/lib/infra.sh && printf %s "$SCHEMATHESIS_VENV"',
    ],
    { cwd: ROOT },
  );
  return join(stdout, 'bin', 'st');
}

before(async () => {
  reports = await mkdtemp(join(tmpdir(), 'mp3test-e2e-schemathesis-'));
  system = await EndToEndSystem.start();
  user = await system.signUp();
});

after(async () => {
  try {
    await system.stop();
  } finally {
    await rm(reports, { recursive: true, force: true });
  }
});

describe('the API contract', () => {
  it('holds for every request schemathesis generates from /openapi.json', async () => {
    const st = await schemathesis();
    const args = [
      'run',
      `${system.url}/openapi.json`,
      '--checks',
      'all',
      '--max-examples',
      String(EXAMPLES_PER_OPERATION),
      '--seed',
      String(SEED),
      '--workers',
      '1',
      '--header',
      `Authorization: Bearer ${user.token}`,
      '--report-dir',
      reports,
    ];
    const result = await run(st, args, {
      cwd: reports,
      timeout: 170_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (error: unknown) => {
        const failed = error as { code?: number | string; stdout?: string; stderr?: string };
        return {
          code: failed.code ?? 'unknown',
          output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
        };
      },
    );
    assert.equal(result.code, 0, `schemathesis failed:\n${result.output}`);
  });
});
