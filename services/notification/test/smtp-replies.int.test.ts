import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { deadQueueName, retryQueueName } from '@mp3converter/amqp';
import { MP3_QUEUE, QUEUE_TOPOLOGY } from '@mp3converter/contracts';
import { waitFor } from '@mp3converter/testkit';
import { SMTPServer } from 'smtp-server';
import { NotificationTestSystem } from './support.ts';

/**
 * An SMTP server of the test's own, answering each recipient as `answers` says (the
 * development mailbox accepts everyone): 550 for a mailbox that does not exist, 451 for
 * "try again later".
 */
const answers = new Map<string, string[]>();
const accepted: string[] = [];
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onRcptTo(address, _session, callback) {
    // "550 no such mailbox": the reply code, then the text (with its enhanced status if any).
    const answer = answers.get(address.address)?.shift();
    if (answer === undefined) {
      callback();
      return;
    }
    const error = Object.assign(new Error(answer.slice(4)), {
      responseCode: Number(answer.slice(0, 3)),
    });
    callback(error);
  },
  onData(stream, session, callback) {
    stream.resume();
    stream.on('end', () => {
      accepted.push(...session.envelope.rcptTo.map((rcpt) => rcpt.address));
      callback();
    });
  },
});

let system: NotificationTestSystem;

before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  system = await NotificationTestSystem.start();
  const { port } = server.server.address() as AddressInfo;
  await system.startNotifier({ SMTP_PORT: String(port) });
});

after(async () => {
  await system.stop();
  await new Promise<void>((resolve) => {
    server.close(resolve);
  });
});

describe('SMTP replies', () => {
  it('does not retry an email whose recipient the server refuses for good (550)', async () => {
    const job = await system.createJob('done');
    answers.set(job.ownerEmail, ['550 no such mailbox']);
    await system.publishDone(job);
    const delivery = await waitFor(async () => {
      const found = await system.delivery(job._id, 'done');
      return found?.state === 'rejected' ? found : undefined;
    });
    assert.equal(delivery.attempts, 1);
    assert.match(delivery.response ?? '', /550/);
    assert.deepEqual(answers.get(job.ownerEmail), [], 'asked once');
    assert.ok(!accepted.includes(job.ownerEmail));
    // Neither retried nor dead-lettered: the refusal is the end of it.
    const [firstRetry] = QUEUE_TOPOLOGY.mp3.retryDelaysMs;
    assert.equal(await system.inspector.count(retryQueueName(MP3_QUEUE, firstRetry)), 0);
    assert.equal(await system.inspector.count(deadQueueName(MP3_QUEUE)), 0);
  });

  it('retries an email the server defers (451) or refuses for a reason of ours (550 5.7.1), and sends it on the next attempt', async () => {
    await Promise.all(['451 try again later', '550 5.7.1 relaying denied'].map(deferredThenSent));
  });
});

/** A job whose owner's address gets `answer` once: its email must go on the next attempt. */
async function deferredThenSent(answer: string): Promise<void> {
  const job = await system.createJob('done');
  answers.set(job.ownerEmail, [answer]);
  await system.publishDone(job);
  const delivery = await waitFor(
    async () => {
      const found = await system.delivery(job._id, 'done');
      return found?.state === 'sent' ? found : undefined;
    },
    { timeoutMs: 20_000, what: `the email deferred by "${answer}" sent` },
  );
  assert.equal(delivery.attempts, 2);
  assert.deepEqual(
    accepted.filter((address) => address === job.ownerEmail),
    [job.ownerEmail],
  );
}
