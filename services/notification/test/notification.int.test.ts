import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { deadQueueName } from '@mp3converter/amqp';
import { CONVERSION_FAILED_QUEUE, MP3_QUEUE } from '@mp3converter/contracts';
import { verifyDownload } from '@mp3converter/download-links';
import { dropConnections, waitFor } from '@mp3converter/testkit';
import type { Notifier } from '../src/worker.ts';
import { LINK_SECRET, NotificationTestSystem, PUBLIC_BASE_URL } from './support.ts';

const DAY_SECONDS = 24 * 60 * 60;

let system: NotificationTestSystem;
let notifier: Notifier;

before(async () => {
  system = await NotificationTestSystem.start();
  notifier = await system.startNotifier();
});

after(async () => {
  await system.stop();
});

/** emails_total for a kind and outcome, from the service's /metrics. */
async function emails(kind: 'done' | 'failed', outcome: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${notifier.port}/metrics`);
  const text = await response.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`emails_total{kind="${kind}",outcome="${outcome}"}`));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

/** The delivery record of a job's email once it says `sent`. */
async function sentDelivery(jobId: string, kind: 'done' | 'failed') {
  return waitFor(
    async () => {
      const found = await system.delivery(jobId, kind);
      return found?.state === 'sent' ? found : undefined;
    },
    { what: `the ${kind} email of job ${jobId} recorded as sent` },
  );
}

/** Waits until emails_total{kind,outcome} has grown by `by` from `from`. */
async function outcomeReached(kind: 'done' | 'failed', outcome: string, from: number, by = 1) {
  await waitFor(async () => (await emails(kind, outcome)) >= from + by, {
    timeoutMs: 20_000,
    what: `emails_total{kind=${kind},outcome=${outcome}} to reach ${from + by}`,
  });
}

describe('the success email', () => {
  it('goes to the owner with the file name, fid, duration, size and a signed 7-day link', async () => {
    const hostile = `<img src=x onerror=alert(1)> "Holiday" & 'friends'.mp4`;
    const job = await system.createJob('done', {
      filename: hostile,
      mp3: { durationSeconds: 205.4, size: 4_900_000 },
    });
    const before = Math.floor(Date.now() / 1000);
    await system.publishDone(job);
    const [email] = await system.mailbox.waitForEmails(job.ownerEmail);
    assert.ok(email);
    const fid = job.mp3?.fid.toHexString() ?? '';

    assert.deepEqual(
      email.to.map((to) => to.address),
      [job.ownerEmail],
    );
    assert.equal(email.from[0]?.address, 'no-reply@mp3converter.com');
    assert.match(email.subject, /^MP3 Download/);
    assert.ok(email.subject.includes(hostile), email.subject);
    assert.equal(email.headers['message-id'], `<${job._id}.done@mp3converter.com>`);

    const text = email.text ?? '';
    assert.ok(text.includes(`mp3 file_id: ${fid} is now ready!`), text);
    assert.ok(text.includes(hostile), 'the plain text names the file as it is');
    assert.ok(text.includes('3:25'), 'duration');
    assert.ok(text.includes('4.9 MB'), 'size');
    assert.ok(text.includes(`${PUBLIC_BASE_URL}/download?fid=${fid}"`), 'the curl command');

    const links = [...text.matchAll(/http:\/\/mp3converter\.test\/download\?[^\s"<>]+/g)].map(
      (match) => new URL(match[0]),
    );
    const signed = links.find((url) => url.searchParams.has('sig'));
    assert.ok(signed, `a signed link in: ${text}`);
    assert.equal(signed.searchParams.get('fid'), fid);
    const expires = Number(signed.searchParams.get('expires'));
    assert.ok(Math.abs(expires - (before + 7 * DAY_SECONDS)) <= 60, `expires ${expires}`);
    assert.equal(
      verifyDownload(LINK_SECRET, {
        fid: signed.searchParams.get('fid'),
        expires: signed.searchParams.get('expires'),
        sig: signed.searchParams.get('sig'),
      }),
      true,
      'the gateway accepts the link',
    );

    const html = email.html ?? '';
    assert.ok(!html.includes('<img src=x'), 'the file name is not markup');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), html);
    assert.ok(
      html.includes(`href="${signed.toString().replaceAll('&', '&amp;')}"`),
      'a link to click',
    );
    assert.ok(html.includes(`mp3 file_id: ${fid} is now ready!`));

    // Recorded once the server has answered, which may be a moment after the mailbox has it.
    const delivery = await sentDelivery(job._id, 'done');
    assert.equal(delivery.to, job.ownerEmail);
  });

  it('is sent once when the mp3 message comes again', async () => {
    const job = await system.createJob('done');
    const duplicates = await emails('done', 'duplicate');
    await system.publishDone(job);
    await system.mailbox.waitForEmails(job.ownerEmail);
    await system.publishDone(job);
    await outcomeReached('done', 'duplicate', duplicates);
    assert.equal((await system.mailbox.emailsTo(job.ownerEmail)).length, 1);
  });

  it('is not sent for a job its owner deleted', async () => {
    const job = await system.createJob('done');
    await system.jobs.collection.updateOne({ _id: job._id }, { $set: { deletedAt: new Date() } });
    const skipped = await emails('done', 'skipped');
    await system.publishDone(job);
    await outcomeReached('done', 'skipped', skipped);
    assert.deepEqual(await system.mailbox.emailsTo(job.ownerEmail), []);
    assert.equal(await system.delivery(job._id, 'done'), null);
  });

  it('is sent again, with the same Message-ID, when an attempt died before recording it', async () => {
    const job = await system.createJob('done');
    const past = new Date(Date.now() - 60_000);
    // What a process killed between the SMTP server's acceptance and the record leaves.
    await system.deliveries.insertOne({
      _id: `${job._id}:done`,
      jobId: job._id,
      kind: 'done',
      to: job.ownerEmail,
      messageId: `<${job._id}.done@mp3converter.com>`,
      state: 'sending',
      leaseUntil: past,
      attempts: 1,
      createdAt: past,
      updatedAt: past,
    });
    await system.publishDone(job);
    const [email] = await system.mailbox.waitForEmails(job.ownerEmail);
    assert.equal(email?.headers['message-id'], `<${job._id}.done@mp3converter.com>`);
    const delivery = await sentDelivery(job._id, 'done');
    assert.equal(delivery.attempts, 2);
  });
});

describe('the failure email', () => {
  it('tells the owner why the file could not be converted and what to try', async () => {
    const job = await system.createJob('failed', {
      filename: 'silent <film>.mp4',
      error: { code: 'NO_AUDIO_TRACK', message: 'the file has no audio track' },
    });
    await system.publishFailed(job);
    const [email] = await system.mailbox.waitForEmails(job.ownerEmail);
    assert.ok(email);
    assert.match(email.subject, /^MP3 conversion failed/);
    assert.ok(email.subject.includes('silent <film>.mp4'));
    assert.equal(email.headers['message-id'], `<${job._id}.failed@mp3converter.com>`);
    const text = email.text ?? '';
    assert.ok(text.includes('the file has no audio track'), text);
    assert.match(text, /audio track/);
    assert.ok(text.includes(job._id), 'the job id, for support');
    assert.ok((email.html ?? '').includes('silent &lt;film&gt;.mp4'));
    await sentDelivery(job._id, 'failed');

    // Once per job, here too.
    const duplicates = await emails('failed', 'duplicate');
    await system.publishFailed(job);
    await outcomeReached('failed', 'duplicate', duplicates);
    assert.equal((await system.mailbox.emailsTo(job.ownerEmail)).length, 1);
  });
});

describe('bad messages', () => {
  it('dead-letters a message that does not parse, and delivers the next one', async () => {
    const { channel } = system.inspector;
    const queues = [MP3_QUEUE, CONVERSION_FAILED_QUEUE];
    const dead = async () =>
      Promise.all(queues.map((queue) => system.inspector.count(deadQueueName(queue))));
    const before = await dead();
    for (const queue of queues) {
      channel.sendToQueue(queue, Buffer.from('{"job_id": "not a job"'), { messageId: 'garbage' });
    }
    await waitFor(
      async () => {
        const now = await dead();
        return now.every((count, n) => count === (before[n] ?? 0) + 1);
      },
      { timeoutMs: 10_000, what: 'both bad messages dead-lettered' },
    );
    const job = await system.createJob('done');
    await system.publishDone(job);
    await system.mailbox.waitForEmails(job.ownerEmail);
  });
});

describe('an SMTP outage', () => {
  it('holds the emails back while the server is away and sends each once when it returns', async () => {
    const deadBefore = await system.inspector.count(deadQueueName(MP3_QUEUE));
    await system.smtp.cut();
    const retried = await emails('done', 'retried');
    const jobs = [
      await system.createJob('done'),
      await system.createJob('done'),
      await system.createJob('done'),
    ];
    try {
      for (const job of jobs) await system.publishDone(job);
      // Every first attempt failed and went to the 5-second retry queue.
      await outcomeReached('done', 'retried', retried, jobs.length);
      for (const job of jobs) assert.deepEqual(await system.mailbox.emailsTo(job.ownerEmail), []);
    } finally {
      await system.smtp.restore();
    }
    for (const job of jobs) {
      const received = await system.mailbox.waitForEmails(job.ownerEmail, 1, 30_000);
      assert.equal(received.length, 1);
      const delivery = await sentDelivery(job._id, 'done');
      assert.ok(delivery.attempts >= 2, `attempts ${delivery.attempts}`);
    }
    assert.equal(await system.inspector.count(deadQueueName(MP3_QUEUE)), deadBefore);
    for (const job of jobs) assert.equal((await system.mailbox.emailsTo(job.ownerEmail)).length, 1);
  });
});

describe('a channel lost while an email is being sent', () => {
  it('lets the send finish and sends nothing more when the message comes back', async () => {
    const job = await system.createJob('done');
    const duplicates = await emails('done', 'duplicate');
    // As the end of the email's data goes to the server, the server's answer is held back
    // and the broker drops the service's connection: the server has the email, the sender
    // does not know yet, and the message goes back to the queue.
    let tail = '';
    let dropped: Promise<number> | undefined;
    system.onSmtpData = (chunk) => {
      tail = (tail + chunk.toString('latin1')).slice(-5);
      if (tail !== '\r\n.\r\n') return;
      system.onSmtpData = undefined;
      system.smtp.stall('server');
      dropped = dropConnections(`notification ${hostname()}:${process.pid}`);
    };
    try {
      await system.publishDone(job);
      await waitFor(() => dropped, { timeoutMs: 20_000, what: 'the end of the email data' });
      assert.ok((await dropped!) >= 1);
      // The message is back and its new attempt finds the email in progress, under the lease.
      await outcomeReached('done', 'retried', await emails('done', 'retried'), 1);
    } finally {
      system.smtp.resume();
    }
    await sentDelivery(job._id, 'done');
    // The retry finds the email sent (or, had the send been given up, sends it a second time).
    await waitFor(
      async () =>
        (await emails('done', 'duplicate')) > duplicates ||
        (await system.mailbox.emailsTo(job.ownerEmail)).length > 1,
      { timeoutMs: 20_000, what: 'the returned message to be handled' },
    );
    assert.equal((await system.mailbox.emailsTo(job.ownerEmail)).length, 1);
  });
});
