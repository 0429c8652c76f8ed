// Bad input through the public API, and fifty clients at once: each bad file gets the
// documented answer or a `failed` job with a clear reason and one failure email, the system
// keeps serving, and under load every request is answered cleanly with the gateway's memory
// bounded.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generateMedia, truncateFile } from '@mp3converter/testkit';
import {
  EndToEndSystem,
  assertAllDone,
  MAX_UPLOAD_BYTES,
  readBytes,
  type Accepted,
  type User,
} from './system.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const UPLOADS_AT_ONCE = 16;

let system: EndToEndSystem;
let dir: string;
let clip: Uint8Array;
let loadClip: Uint8Array;
let user: User;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-e2e-media-'));
  await Promise.all([
    generateMedia(join(dir, 'clip.mp4'), { container: 'mp4', seconds: 5 }),
    generateMedia(join(dir, 'silent.mp4'), { container: 'mp4', seconds: 5, audio: false }),
    generateMedia(join(dir, 'truncated.mp4'), { container: 'mp4', seconds: 20, faststart: true }),
    // 4.4 MB: fifty of them at once are 220 MB in flight, which the gateway must not hold.
    generateMedia(join(dir, 'load.wav'), { container: 'wav', seconds: 25 }),
  ]);
  await truncateFile(join(dir, 'truncated.mp4'), 0.4);
  clip = await readBytes(join(dir, 'clip.mp4'));
  loadClip = await readBytes(join(dir, 'load.wav'));
  // Sixteen uploads at once per gateway (32 by default): past that, 503 with Retry-After.
  system = await EndToEndSystem.start({
    converters: 2,
    env: { gateway: { MAX_CONCURRENT_UPLOADS: String(UPLOADS_AT_ONCE) } },
  });
  user = await system.signUp();
});

after(async () => {
  try {
    await system.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Reads the `/proc` resident set of a process, in MiB. */
async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
}

describe('bad input through the public API', () => {
  it('refuses what is not a file to convert with the documented answers, before any job', async () => {
    const empty = await system.upload(user, new Uint8Array(0), 'empty.mp4');
    assert.equal(empty.status, 400);
    assert.equal(empty.body.code, 'EMPTY_FILE');
    const tooLarge = await system.upload(user, randomBytes(MAX_UPLOAD_BYTES + MiB), 'big.mp4');
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.code, 'FILE_TOO_LARGE');
    const { body: list } = await system.api.as(user.token).listJobs();
    assert.deepEqual(list.jobs, []);
  });

  it('fails files ffmpeg cannot convert with a reason each, and one failure email each', async (t) => {
    const owner = await system.signUp();
    const bad: [string, Uint8Array][] = [
      ['notes.mp4', new TextEncoder().encode('these are my notes, not a video\n'.repeat(50))],
      ['noise.mp4', randomBytes(256 * 1024)],
      ['truncated.mp4', await readBytes(join(dir, 'truncated.mp4'))],
      ['silent.mp4', await readBytes(join(dir, 'silent.mp4'))],
    ];
    const accepted: Accepted[] = [];
    for (const [name, content] of bad) accepted.push(await system.accept(owner, content, name));
    const jobs = await system.assertSettled(accepted);
    for (const [index, job] of jobs.entries()) {
      assert.equal(job.status, 'failed', `${bad[index]![0]} is ${job.status}`);
    }
    for (const [index, job] of jobs.entries()) {
      t.diagnostic(`${bad[index]![0]}: ${job.error?.code} (${job.error?.message})`);
    }
    assert.equal(jobs[3]!.error?.code, 'NO_AUDIO_TRACK');
    const emails = await system.mailbox.emailsTo(owner.email);
    assert.equal(emails.length, bad.length);
    for (const email of emails) assert.ok(email.text && email.text.length > 0);
    // Still serving: a good file goes through.
    const [good] = await system.assertSettled([await system.accept(owner, clip)]);
    assert.equal(good!.status, 'done');
  });

  it('keeps a file name with quotes, unicode and ../ as a plain name, through to the MP3 and the email', async () => {
    const owner = await system.signUp();
    const path = join(dir, 'named.mp4');
    await writeFile(path, clip);
    // As curl sends it (it escapes the quotes); busboy reads the name, the gateway keeps its base.
    const { stdout } = await run('curl', [
      ...['-sS', '-X', 'POST', '-H', `Authorization: Bearer ${owner.token}`],
      ...['-F', `file=@${path};filename=../../etc/"quoted" ünïcødé 🎵.mp4`],
      `${system.url}/upload`,
    ]);
    const { jobId, filename } = JSON.parse(stdout) as { jobId: string; filename: string };
    assert.ok(!filename.includes('/') && !filename.includes('..'), filename);
    assert.ok(filename.endsWith('ünïcødé 🎵.mp4'), filename);
    assert.ok(filename.includes('quoted'), filename);
    const [job] = await system.assertSettled([{ jobId, email: owner.email }]);
    assert.equal(job!.status, 'done');
    const [email] = await system.mailbox.emailsTo(owner.email);
    assert.equal(email!.subject, `MP3 Download: ${filename}`);
    const download = await system.api.as(owner.token).download(job!.mp3!.fid.toHexString());
    const disposition = download.headers.get('content-disposition') ?? '';
    const encoded = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1];
    assert.equal(decodeURIComponent(encoded ?? ''), filename.replace(/\.mp4$/, '.mp3'));
  });
});

describe('load', () => {
  it('fifty clients at once: each answered 202 or a clean 429/503, every accepted job finishes, memory bounded', async (t) => {
    const users = await Promise.all(Array.from({ length: 10 }, () => system.signUp()));
    const pid = system.gateway.child.pid!;
    const idle = await rssMiB(pid);
    let peak = idle;
    const sampler = setInterval(() => {
      void rssMiB(pid).then((rss) => (peak = Math.max(peak, rss)));
    }, 25);
    let answers: (Awaited<ReturnType<typeof system.upload>> & { email: string })[];
    try {
      answers = await Promise.all(
        Array.from({ length: 50 }, async (_, n) => {
          const client = users[n % users.length]!;
          const answer = await system.upload(client, loadClip, `clip-${n}.wav`);
          return { ...answer, email: client.email };
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    for (const answer of answers) {
      assert.ok(
        [202, 429, 503].includes(answer.status),
        `HTTP ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
      if (answer.status !== 202) {
        assert.ok(answer.headers.get('retry-after'), 'no Retry-After');
        assert.equal(answer.body.code, 'TOO_MANY_UPLOADS');
      }
    }
    const accepted = answers
      .filter((answer) => answer.status === 202)
      .map((answer) => ({ jobId: String(answer.body.jobId), email: answer.email }));
    assert.ok(accepted.length > 0);
    const jobs = await system.assertSettled(accepted, 180_000);
    assertAllDone(jobs);
    t.diagnostic(
      `${accepted.length}/50 accepted, the others 503 TOO_MANY_UPLOADS; gateway rss ${idle.toFixed(0)} MiB idle, ${peak.toFixed(0)} MiB peak`,
    );
    // Each upload under way holds 3-4 MiB, and the refused bodies, read and dropped for a
    // moment so that their clients get the answer, leave garbage that V8 collects once it
    // passes its 64 MiB allowance for external memory: bounded by the limit, whatever the
    // crowd (measured: 75-110 MiB). Holding the uploads whole would be 210 MiB.
    assert.ok(
      peak - idle < UPLOADS_AT_ONCE * 4 + 64,
      `the gateway grew from ${idle.toFixed(0)} to ${peak.toFixed(0)} MiB`,
    );
  });
});
