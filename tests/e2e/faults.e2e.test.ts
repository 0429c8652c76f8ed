// Faults survived: each scenario breaks one part of the running system while uploads,
// conversions or emails are in flight, and then checks the invariant: every accepted upload
// ends `done` with one MP3 and one email, or `failed` with a reason and one failure email;
// nothing lost, nothing twice, no orphan files, nothing left in the temp directory.
// The scenarios share one system start; each uses users of its own and ends settled.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateMedia, waitFor } from '@mp3converter/testkit';
import { EndToEndSystem, assertAllDone, readBytes, type Accepted } from './system.ts';

let system: EndToEndSystem;
let dir: string;
let clip: Uint8Array;
/** Ten minutes of audio: several seconds of ffmpeg, long enough to be caught mid-conversion. */
let long: Uint8Array;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mp3test-e2e-media-'));
  await Promise.all([
    generateMedia(join(dir, 'clip.mp4'), { container: 'mp4', seconds: 20 }),
    generateMedia(join(dir, 'long.mp4'), { container: 'mp4', seconds: 600, video: false }),
  ]);
  clip = await readBytes(join(dir, 'clip.mp4'));
  long = await readBytes(join(dir, 'long.mp4'));
  system = await EndToEndSystem.start({ converters: 2 });
});

after(async () => {
  try {
    await system.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The gateway says it is ready again (MongoDB, RabbitMQ and auth all reachable). */
async function gatewayReady(timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await fetch(`${system.url}/readyz`)).status === 200, {
    timeoutMs,
    intervalMs: 200,
    what: 'the gateway to be ready',
  });
}

/** The converter (running now) whose claim the job holds. */
async function converterOf(jobId: string): Promise<(typeof system.converters)[number]> {
  const job = await system.jobs.findAny(jobId);
  const pid = Number(job?.claim?.worker.split(':').at(-1));
  const converter = system.converters.find((running) => running.child.pid === pid);
  assert.ok(converter, `no running converter holds job ${jobId} (${job?.claim?.worker})`);
  return converter;
}

describe('faults survived', () => {
  it('a converter killed with SIGKILL mid-conversion: another one converts the job, once', async () => {
    const user = await system.signUp();
    const accepted = [await system.accept(user, long, 'long.mp4')];
    accepted.push(await system.accept(user, clip));
    await system.waitMidConversion(accepted[0]!.jobId);
    const victim = await converterOf(accepted[0]!.jobId);
    await system.killConverter(victim);
    const [job] = await system.assertSettled(accepted);
    assert.equal(job!.status, 'done');
    assert.notEqual(job!.claim?.worker.split(':').at(-1), String(victim.child.pid));
  });

  it('RabbitMQ stopped and restarted: uploads meanwhile get 503, no accepted upload is lost', async () => {
    const user = await system.signUp();
    const accepted: Accepted[] = [await system.accept(user, long, 'long.mp4')];
    for (let n = 0; n < 3; n++) accepted.push(await system.accept(user, clip));
    await system.waitMidConversion(accepted[0]!.jobId);

    // Uploads keep coming while the broker goes down: each is accepted or refused cleanly.
    const outage = new AbortController();
    const during: { status: number; retryAfter: string | null }[] = [];
    // Each accepted upload waits until a converter took its job or the gateway saw the broker
    // go; the first refusal ends the loop (the outage has reached the uploads).
    const takenOrBrokerGone = async (jobId: string): Promise<boolean> =>
      (await system.jobs.findAny(jobId))?.status !== 'queued' ||
      (await fetch(`${system.url}/readyz`)).status === 503 ||
      outage.signal.aborted;
    const uploader = (async () => {
      while (!outage.signal.aborted) {
        const answer = await system.upload(user, clip);
        during.push({ status: answer.status, retryAfter: answer.headers.get('retry-after') });
        if (answer.status !== 202) break;
        const jobId = String(answer.body.jobId);
        accepted.push({ jobId, email: user.email });
        await waitFor(() => takenOrBrokerGone(jobId), {
          timeoutMs: 60_000,
          intervalMs: 50,
          what: `job ${jobId} taken, or the broker gone`,
        });
      }
    })();
    try {
      await system.servers.stop('rabbitmq');
    } finally {
      outage.abort();
      await uploader;
    }
    const down = await system.upload(user, clip);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.ok(down.headers.get('retry-after'));
    for (const answer of during) {
      assert.ok([202, 503].includes(answer.status), `an upload got ${answer.status}`);
      if (answer.status === 503) assert.ok(answer.retryAfter, 'a 503 without Retry-After');
    }

    await system.servers.start('rabbitmq');
    await gatewayReady();
    accepted.push(await system.accept(user, clip));
    const jobs = await system.assertSettled(accepted, 180_000);
    assertAllDone(jobs);
  });

  it('the Mongo-wire server restarted while conversions run: every job still ends once', async () => {
    const user = await system.signUp();
    const accepted = [await system.accept(user, long, 'long.mp4')];
    for (let n = 0; n < 2; n++) accepted.push(await system.accept(user, clip));
    await system.waitMidConversion(accepted[0]!.jobId);
    await system.servers.stop('mongo');
    await system.servers.start('mongo');
    await gatewayReady();
    accepted.push(await system.accept(user, clip));
    const jobs = await system.assertSettled(accepted, 180_000);
    assertAllDone(jobs);
  });

  it('the SMTP server down for a while: the email goes out once it is back, once', async () => {
    const user = await system.signUp();
    const metric = /^emails_total\{kind="done",outcome="retried"\} (\d+)$/m;
    const retried = async (): Promise<number> => {
      const metrics = await (await fetch(`${system.notification.url}/metrics`)).text();
      return Number(metric.exec(metrics)?.[1] ?? 0);
    };
    const before = await retried();
    await system.smtp.cut();
    let accepted: Accepted[];
    try {
      accepted = [await system.accept(user, clip)];
      await system.waitForJob(accepted[0]!.jobId, ['done']);
      // The notification service has tried this email and failed.
      await waitFor(async () => (await retried()) > before, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'a failed attempt to send the email',
      });
      assert.deepEqual(await system.mailbox.emailsTo(user.email), []);
    } finally {
      await system.smtp.restore();
    }
    await system.assertSettled(accepted, 60_000);
  });

  it('auth restarted: requests meanwhile get 503 with Retry-After, quickly, and work after', async () => {
    const user = await system.signUp();
    const accepted: Accepted[] = [];
    await system.restart('auth', {
      between: async () => {
        const api = system.api.as(user.token);
        const unavailable = () =>
          ({ expectedStatus: 503, signal: AbortSignal.timeout(10_000) }) as const;
        const newcomer = { email: 'new@example.com', password: 'a long enough password' };
        const requests: [string, () => Promise<{ headers: Headers }>][] = [
          ['/login', () => api.login(user, unavailable())],
          ['/register', () => api.register(newcomer, unavailable())],
          ['/jobs', () => api.listJobs({}, unavailable())],
        ];
        for (const [path, send] of requests) {
          const started = performance.now();
          const { headers } = await send();
          const ms = performance.now() - started;
          assert.ok(headers.get('retry-after'), `${path}: no Retry-After`);
          assert.ok(ms < 6_000, `${path} took ${ms} ms`);
        }
        const upload = await system.upload(user, clip);
        assert.equal(upload.status, 503, JSON.stringify(upload.body));
      },
    });
    await gatewayReady();
    await system.api.login(user);
    accepted.push(await system.accept(user, clip));
    await system.assertSettled(accepted);
  });

  it('the notification service killed between sending and acking: the email is not sent again', async () => {
    const user = await system.signUp();
    // As the end of the email's data goes to the SMTP server, the service's RabbitMQ
    // connection goes silent: the email is sent and recorded, but its ack never arrives.
    let tail = '';
    system.smtpTap.onData = (chunk) => {
      tail = (tail + chunk.toString('latin1')).slice(-5);
      if (tail === '\r\n.\r\n') {
        system.notificationAmqp.stall();
        system.smtpTap.onData = undefined;
      }
    };
    let restarted: Awaited<ReturnType<typeof system.restart>>;
    const accepted = [await system.accept(user, clip)];
    const jobId = accepted[0]!.jobId;
    try {
      await system.waitForJob(jobId, ['done']);
      const deliveries = system.mongo
        .db('mp3converter')
        .collection<{ _id: string; state: string }>('notifications');
      await waitFor(
        async () => (await deliveries.findOne({ _id: `${jobId}:done` }))?.state === 'sent',
        { timeoutMs: 30_000, intervalMs: 50, what: 'the email to be recorded as sent' },
      );
      restarted = await system.restart('notification', {
        signal: 'SIGKILL',
        // The kernel closes a killed process's sockets; the proxy is made to pass that on
        // at once, whatever it was holding, so that the broker requeues the message now.
        between: async () => {
          await system.notificationAmqp.cut();
          await system.notificationAmqp.restore();
        },
      });
    } finally {
      system.smtpTap.onData = undefined;
      system.notificationAmqp.resume();
    }
    // The message comes back to the new process, which sees the email was sent.
    await restarted
      .waitForLog(
        (line) => line.msg === 'email already handled: not sent again' && line.jobId === jobId,
        60_000,
      )
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}${system.logsOf(jobId)}`, { cause: error });
      });
    await system.assertSettled(accepted);
    assert.equal((await system.mailbox.emailsTo(user.email)).length, 1);
  });
});
