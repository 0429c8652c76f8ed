// The system as its users drive it: the README's curl workflow pasted as written, the fid taken
// from the email, and three converters competing for twelve uploads.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { probeMedia } from '@mp3converter/testkit';
import { EndToEndSystem, assertAllDone, readBytes, type Accepted } from './system.ts';

const run = promisify(execFile);
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

let system: EndToEndSystem;
let dir: string;
let video: string;

/** The README's code blocks under "Using it (curl)": the ffmpeg command, then the curl workflow. */
async function readmeBlocks(): Promise<{ generate: string; workflow: string }> {
  const readme = await readFile(README, 'utf8');
  const section = readme.slice(readme.indexOf('## Using it (curl)'));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const [generate = '', workflow = ''] = blocks;
  assert.ok(generate.includes('ffmpeg') && workflow.includes('curl'), 'README blocks not found');
  return { generate, workflow };
}

async function bash(script: string, cwd: string): Promise<string> {
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
    cwd,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

async function curl(...args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], {
    cwd: dir,
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const split = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-e2e-media-'));
  // The README's own command makes the video.
  await bash((await readmeBlocks()).generate, dir);
  video = join(dir, 'video.mp4');
  system = await EndToEndSystem.start({ converters: 3 });
});

after(async () => {
  try {
    await system.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe('the curl workflow', () => {
  it("works when the README's commands are pasted as written", async () => {
    const { workflow } = await readmeBlocks();
    const address = `readme-${Date.now()}@example.com`;
    system.addresses.add(address);
    // In the directory the README's ffmpeg command made video.mp4 in, as a user would.
    const output = await bash(
      workflow
        .replaceAll('http://127.0.0.1:8080', system.url)
        .replaceAll('me@example.com', address),
      dir,
    );
    // The first upload's answer: its job.
    const firstJob = /"jobId":"([^"]+)"/.exec(output)?.[1];
    assert.ok(firstJob, output);
    // `curl -OJ` saved the MP3 under the name the gateway gave it.
    const mp3 = await probeMedia(join(dir, 'video.mp3'));
    assert.equal(mp3.formatName, 'mp3');
    assert.ok(Math.abs(mp3.durationSeconds - 20) < 0.2, `duration ${mp3.durationSeconds}`);
    // The first upload's email (the second job is deleted by the block's last command, maybe
    // before its email went out), and the first job done with one MP3 and that one email.
    await system.mailbox.waitForEmails(address, 1, 60_000);
    const [job] = await system.assertSettled([{ jobId: firstJob, email: address }], undefined, {
      // The deleted job's email may or may not have gone out before the delete.
      emailTotals: false,
    });
    assert.equal(job!.status, 'done');
    const emails = await system.mailbox.emailsTo(address);
    const mine = emails.filter((email) =>
      email.headers['message-id']?.startsWith(`<${firstJob}.done@`),
    );
    assert.equal(mine[0]?.subject, 'MP3 Download: video.mp4');
  });

  it('gives the fid in the email; curl downloads that MP3 with the token, another user gets 404', async () => {
    const owner = await system.signUp();
    const upload = await curl(
      ...['-X', 'POST', '-H', `Authorization: Bearer ${owner.token}`],
      ...['-F', `file=@${video}`, `${system.url}/upload`],
    );
    assert.equal(upload.status, 202, upload.body);
    const [email] = await system.mailbox.waitForEmails(owner.email, 1, 60_000);
    const fid = /mp3 file_id: ([0-9a-f]{24}) is now ready!/.exec(email!.text ?? '')?.[1];
    assert.ok(fid, `no fid in the email: ${email!.text}`);

    const saved = join(dir, `${fid}.mp3`);
    const download = await curl(
      ...['-o', saved, '-H', `Authorization: Bearer ${owner.token}`],
      `${system.url}/download?fid=${fid}`,
    );
    assert.equal(download.status, 200);
    const mp3 = await probeMedia(saved);
    assert.equal(mp3.formatName, 'mp3');
    assert.ok(Math.abs(mp3.durationSeconds - 20) < 0.2, `duration ${mp3.durationSeconds}`);

    const stranger = await system.signUp();
    const refused = await curl(
      ...['-H', `Authorization: Bearer ${stranger.token}`],
      `${system.url}/download?fid=${fid}`,
    );
    assert.equal(refused.status, 404);
    assert.equal((JSON.parse(refused.body) as { code: string }).code, 'FILE_NOT_FOUND');
    const { jobId } = JSON.parse(upload.body) as { jobId: string };
    const accepted: Accepted = { jobId, email: owner.email };
    await system.assertSettled([accepted]);
  });
});

describe('competing converters', () => {
  it('three converters share twelve uploads: each converted once, every user emailed once', async () => {
    const content = await readBytes(video);
    const users = await Promise.all(Array.from({ length: 12 }, () => system.signUp()));
    const accepted = await Promise.all(users.map((user) => system.accept(user, content)));
    const jobs = await system.assertSettled(accepted);
    assertAllDone(jobs);
    for (const { jobId } of accepted) {
      assert.equal(system.converterLogCount(jobId, 'conversion started'), 1, system.logsOf(jobId));
    }
    const workers = system.convertersThatWorked(accepted.map((job) => job.jobId));
    assert.ok(workers > 1, `only ${workers} converter did the work`);
    for (const user of users) {
      assert.equal((await system.mailbox.emailsTo(user.email)).length, 1, user.email);
    }
  });
});
