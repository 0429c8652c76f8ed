import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MP3_QUEUE, VIDEO_QUEUE, type Mp3Message } from '@mp3converter/contracts';
import { generateMedia } from '@mp3converter/testkit';
import { ConverterTestSystem } from './support.ts';

let system: ConverterTestSystem;
let media: string;
/** Ten minutes of audio: long enough to be caught mid-conversion. */
let long: string;
let short: string;

before(async () => {
  system = await ConverterTestSystem.start();
  media = await mkdtemp(join(tmpdir(), 'mp3test-media-'));
  long = join(media, 'long.mp4');
  short = join(media, 'short.mp4');
  await Promise.all([
    generateMedia(long, { container: 'mp4', seconds: 600, video: false }),
    generateMedia(short, { container: 'mp4', seconds: 8 }),
  ]);
});

after(async () => {
  await system.stop();
  await rm(media, { recursive: true, force: true });
});

describe('converter processes', () => {
  it('finish the job of a converter killed mid-conversion, with exactly one MP3', async () => {
    const first = await system.spawnConverter();
    const jobId = await system.submit(long);
    await system.waitMidConversion(jobId);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await system.spawnConverter();
    const job = await system.waitForJob(jobId, ['done', 'failed'], 60_000);
    assert.equal(job.status, 'done', JSON.stringify(job.error));
    assert.equal(job.claim?.worker.endsWith(`:${second.child.pid}`), true);
    const messages = await system.waitForMessages(MP3_QUEUE, 1);
    assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
    assert.deepEqual(
      messages.map((message) => (message.body as Mp3Message).job_id),
      [jobId],
    );
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null });
    assert.deepEqual(await system.tempFiles(), []);
  });

  it('on SIGTERM past the grace period stop ffmpeg and leave the job for the next converter', async () => {
    const first = await system.spawnConverter({ SHUTDOWN_GRACE_MS: '500' });
    const jobId = await system.submit(long);
    await system.waitMidConversion(jobId);
    first.child.kill('SIGTERM');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
    assert.ok(first.logs.some((line) => line.msg === 'consumer stopped' && line.abandoned === 1));
    assert.deepEqual(await system.tempFiles(), []);
    const second = await system.spawnConverter();
    const job = await system.waitForJob(jobId, ['done', 'failed'], 60_000);
    assert.equal(job.status, 'done');
    assert.equal((await system.waitForMessages(MP3_QUEUE, 1)).length, 1);
    assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('on SIGTERM within the grace period finish the job in hand, then exit 0', async () => {
    const first = await system.spawnConverter({ SHUTDOWN_GRACE_MS: '60000' });
    const jobId = await system.submit(long);
    await system.waitMidConversion(jobId);
    first.child.kill('SIGTERM');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
    const job = await system.jobs.findAny(jobId);
    assert.equal(job?.status, 'done');
    assert.equal(await system.readyCount(VIDEO_QUEUE), 0);
    assert.equal((await system.takeMessages(MP3_QUEUE)).length, 1);
  });

  it('three converters share twelve jobs: each converted once, by more than one of them', async () => {
    const converters = await Promise.all([1, 2, 3].map(() => system.spawnConverter()));
    const jobIds = await Promise.all(Array.from({ length: 12 }, () => system.submit(short)));
    const jobs = await Promise.all(jobIds.map((jobId) => system.waitForJob(jobId)));
    assert.deepEqual(
      jobs.map((job) => job.status),
      jobs.map(() => 'done'),
    );
    const workers = new Set(jobs.map((job) => job.claim?.worker));
    assert.ok(workers.size > 1, `all jobs went to ${[...workers].join(', ')}`);
    const messages = await system.waitForMessages(MP3_QUEUE, 12);
    for (const jobId of jobIds) {
      assert.deepEqual(await system.mp3Files(jobId), { files: 1, orphanChunks: 0 });
    }
    assert.deepEqual(
      messages.map((message) => (message.body as Mp3Message).job_id).sort(),
      [...jobIds].sort(),
    );
    for (const converter of converters) converter.child.kill('SIGTERM');
    await Promise.all(converters.map((converter) => converter.exited));
    assert.deepEqual(await system.tempFiles(), []);
  });

  it('at start remove what dead converters left in the temp directory, and nothing else', async () => {
    const running = await system.spawnConverter();
    const root = join(system.tempRoot, 'work');
    const mine = (pid: number | undefined): string => `work-${hostname()}-${pid}`;
    await writeFile(join(root, 'other-program.txt'), 'x');
    await mkdir(join(root, mine(999_999_999), 'job-1'), { recursive: true });
    await writeFile(join(root, mine(999_999_999), 'job-1', 'input'), 'x');
    const second = await system.spawnConverter();
    const entries = (await readdir(root)).sort();
    const expected = [mine(running.child.pid), mine(second.child.pid), 'other-program.txt'];
    assert.deepEqual(entries, expected.sort());
    for (const converter of [running, second]) converter.child.kill('SIGTERM');
    await Promise.all([running.exited, second.exited]);
    await rm(join(root, 'other-program.txt'));
  });

  it('exits non-zero at start when its ffmpeg cannot encode MP3', async () => {
    const child = spawn(process.execPath, [new URL('../src/main.ts', import.meta.url).pathname], {
      env: { PATH: process.env.PATH, ...system.env({ FFMPEG_PATH: '/bin/true' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(output, /ffmpeg cannot be used/);
  });
});
