import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { DependencyUnavailableError } from '@mp3converter/errors';
import { startTcpProxy, testServers } from '@mp3converter/testkit';
import { MongoClient, ObjectId } from 'mongodb';

import {
  JOB_STATUSES,
  JobStore,
  decodeCursor,
  encodeCursor,
  type JobMover,
  type NewJob,
} from '../src/index.ts';

const client = new MongoClient(testServers.mongoUrl);
const db = client.db(`mp3test_jobs_${randomUUID().replaceAll('-', '')}`);
let collectionCount = 0;

/** Each test gets its own collection in this run's database. */
async function freshStore(): Promise<JobStore> {
  collectionCount += 1;
  const store = new JobStore(db, `jobs${collectionCount}`);
  await store.ensureIndexes();
  return store;
}

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    ownerId: 'user-1',
    ownerEmail: 'one@example.com',
    filename: 'clip.mp4',
    options: { bitrate_kbps: 192 },
    video: { fid: new ObjectId(), size: 1234, contentType: 'video/mp4', sha256: 'ab'.repeat(32) },
    ...overrides,
  };
}

before(async () => {
  await client.connect();
});

after(async () => {
  await db.dropDatabase();
  await client.close();
});

describe('JobStore', () => {
  it('creates a queued job and finds it, for its owner only', async () => {
    const store = await freshStore();
    const input = newJob();
    const created = await store.create(input);
    assert.equal(created.status, 'queued');
    assert.equal(created.progress, 0);

    const found = await store.find(input.id);
    assert.equal(found?._id, input.id);
    assert.equal(found.video.fid.equals(input.video.fid), true);
    assert.deepEqual(found.options, { bitrate_kbps: 192 });
    assert.equal((await store.findForOwner(input.id, 'user-1'))?._id, input.id);
    assert.equal(await store.findForOwner(input.id, 'user-2'), undefined);
    assert.equal(await store.find(randomUUID()), undefined);
  });

  it('creates the indexes the queries use', async () => {
    const store = await freshStore();
    const names = (await store.collection.indexes()).map((index) => index.name);
    for (const name of ['owner_newest_first', 'video_fid', 'mp3_fid']) {
      assert.ok(names.includes(name), `index ${name} in ${names.join(', ')}`);
    }
  });

  it('makes the moves JOB_TRANSITIONS lists and no other, from every state', async () => {
    const store = await freshStore();
    const movers: Record<JobMover, (id: string, claimFid: ObjectId) => Promise<unknown>> = {
      claim: (id) => store.claim(id, { worker: 'b', mp3Fid: new ObjectId() }),
      completeConversion: (id, fid) =>
        store.completeConversion(id, { fid, size: 1, durationSeconds: 1, filename: 'a.mp3' }, 1),
      failConversion: (id, fid) => store.failConversion(id, fid, { code: 'E', message: 'e' }),
    };
    const made: string[] = [];
    for (const status of JOB_STATUSES) {
      for (const retryable of status === 'failed' ? [false, true] : [false]) {
        for (const deleted of [false, true]) {
          for (const [mover, move] of Object.entries(movers)) {
            const { _id: id } = await store.create(newJob());
            const claimFid = new ObjectId();
            const seeded = await store.collection.findOneAndUpdate(
              { _id: id },
              {
                $set: {
                  status,
                  claim: { worker: 'a', mp3Fid: claimFid, claimedAt: new Date() },
                  ...(status === 'failed' && { error: { code: 'E', message: 'e', retryable } }),
                  ...(deleted && { deletedAt: new Date() }),
                },
              },
              { returnDocument: 'after' },
            );
            const state = `${status}${retryable ? ' (retryable)' : ''}${deleted ? ' (deleted)' : ''}`;
            const moved = await move(id, claimFid);
            const now = await store.findAny(id);
            if (moved === undefined) {
              assert.deepEqual(now, seeded, `${mover} left ${state} as it was`);
            } else {
              made.push(`${mover}: ${state} → ${now?.status}`);
            }
          }
        }
      }
    }
    assert.deepEqual(made, [
      'claim: queued → converting',
      'claim: converting → converting',
      'completeConversion: converting → done',
      'failConversion: converting → failed',
      'claim: failed (retryable) → converting',
    ]);
  });

  it('of two attempts finishing at once, only the one holding the claim moves the job', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    const first = await store.claim(id, { worker: 'a', mp3Fid: new ObjectId() });
    const second = await store.claim(id, { worker: 'b', mp3Fid: new ObjectId() });
    assert.ok(first?.job.claim && second?.job.claim);
    const mp3 = (fid: ObjectId) => ({ fid, size: 10, durationSeconds: 2.5, filename: 'clip.mp3' });
    const results = await Promise.all([
      store.completeConversion(id, mp3(first.job.claim.mp3Fid), 2.5),
      store.completeConversion(id, mp3(second.job.claim.mp3Fid), 2.5),
      store.completeConversion(id, mp3(second.job.claim.mp3Fid), 2.5),
    ]);
    assert.equal(results.filter((job) => job !== undefined).length, 1);
    assert.ok(results[0] === undefined);
    const done = results.find((job) => job !== undefined);
    assert.equal(done?.status, 'done');
    assert.ok(done.mp3?.fid.equals(second.job.claim.mp3Fid));

    // A redelivered message finds the job past its step.
    assert.equal(await store.claim(id, { worker: 'c', mp3Fid: new ObjectId() }), undefined);
    const error = { code: 'E', message: 'e' };
    assert.equal(await store.failConversion(id, second.job.claim.mp3Fid, error), undefined);
    assert.equal((await store.find(id))?.status, 'done');
  });

  it('records progress only while converting, clamped to 0..100', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    assert.equal(await store.reportProgress(id, 10), false);
    const claimed = await store.claim(id, { worker: 'a', mp3Fid: new ObjectId() });
    assert.ok(claimed?.job.claim);
    assert.equal(await store.reportProgress(id, 42.4), true);
    assert.equal((await store.find(id))?.progress, 42);
    assert.equal(await store.reportProgress(id, 180), true);
    assert.equal((await store.find(id))?.progress, 100);
    await store.failConversion(id, claimed.job.claim.mp3Fid, {
      code: 'NO_AUDIO',
      message: 'the video has no sound track',
    });
    assert.equal(await store.reportProgress(id, 50), false);
  });

  it('claims a queued job once; a second claim takes it over and names the first', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    const first = await store.claim(id, { worker: 'a', mp3Fid: new ObjectId() });
    assert.ok(first);
    assert.equal(first.job.status, 'converting');
    assert.equal(first.previous, undefined);
    assert.equal((await store.find(id))?.claim?.worker, 'a');
    const second = await store.claim(id, { worker: 'b', mp3Fid: new ObjectId() });
    assert.ok(second);
    assert.equal(second.previous?.worker, 'a');
    assert.ok(second.previous.mp3Fid.equals(first.job.claim?.mp3Fid));
    assert.equal((await store.find(id))?.claim?.worker, 'b');
  });

  it('finishes or fails a conversion only for the attempt holding the claim', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    const old = new ObjectId();
    const current = new ObjectId();
    await store.claim(id, { worker: 'a', mp3Fid: old });
    await store.claim(id, { worker: 'b', mp3Fid: current });
    const mp3 = { fid: old, size: 10, durationSeconds: 1, filename: 'clip.mp3' };
    assert.equal(await store.completeConversion(id, mp3, 1), undefined);
    assert.equal(await store.failConversion(id, old, { code: 'X', message: 'x' }), undefined);
    assert.equal(await store.reportProgress(id, 50, new Date(), old), false);
    assert.equal(await store.reportProgress(id, 50, new Date(), current), true);
    const done = await store.completeConversion(id, { ...mp3, fid: current }, 1.5);
    assert.equal(done?.status, 'done');
    assert.equal(done.progress, 100);
    assert.equal(done.durationSeconds, 1.5);
    assert.equal(await store.claim(id, { worker: 'c', mp3Fid: new ObjectId() }), undefined);
  });

  it('claims a failed job again only when it failed on our side', async () => {
    const store = await freshStore();
    const retryable = (await store.create(newJob()))._id;
    const permanent = (await store.create(newJob()))._id;
    for (const [id, isRetryable] of [
      [retryable, true],
      [permanent, false],
    ] as const) {
      const claimed = await store.claim(id, { worker: 'a', mp3Fid: new ObjectId() });
      assert.ok(claimed?.job.claim);
      const error = { code: 'E', message: 'e', retryable: isRetryable };
      const failed = await store.failConversion(id, claimed.job.claim.mp3Fid, error);
      assert.equal(failed?.status, 'failed');
    }
    const again = await store.claim(retryable, { worker: 'b', mp3Fid: new ObjectId() });
    assert.equal(again?.job.status, 'converting');
    assert.equal(again.job.error, undefined);
    assert.equal((await store.find(retryable))?.error, undefined);
    assert.equal(await store.claim(permanent, { worker: 'b', mp3Fid: new ObjectId() }), undefined);
  });

  it('does not claim a deleted job; findAny still finds it', async () => {
    const store = await freshStore();
    const job = await store.create(newJob());
    await store.markDeleted(job._id, job.ownerId);
    assert.equal(await store.claim(job._id, { worker: 'a', mp3Fid: new ObjectId() }), undefined);
    assert.ok((await store.findAny(job._id))?.deletedAt);
    assert.equal(await store.findAny(randomUUID()), undefined);
  });

  it('a job marked deleted is invisible and can no longer move; the mark can be repeated', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    assert.equal(await store.markDeleted(id, 'user-2'), undefined, "another user's job");
    const marked = await store.markDeleted(id, 'user-1');
    assert.ok(marked?.deletedAt instanceof Date);
    assert.equal(await store.find(id), undefined);
    assert.equal(await store.findForOwner(id, 'user-1'), undefined);
    assert.equal((await store.listForOwner('user-1')).jobs.length, 0);
    assert.equal(await store.claim(id, { worker: 'a', mp3Fid: new ObjectId() }), undefined);

    const again = await store.markDeleted(id, 'user-1');
    assert.equal(again?.deletedAt?.getTime(), marked.deletedAt.getTime());
    await store.remove(id);
    assert.equal(await store.collection.countDocuments({ _id: id }), 0);
    assert.equal(await store.markDeleted(id, 'user-1'), undefined);
  });

  it('discards a job only while it is queued', async () => {
    const store = await freshStore();
    const { _id: queued } = await store.create(newJob());
    assert.equal(await store.discard(queued), true);
    assert.equal(await store.find(queued), undefined);
    const { _id: taken } = await store.create(newJob());
    await store.claim(taken, { worker: 'a', mp3Fid: new ObjectId() });
    assert.equal(await store.discard(taken), false);
    assert.equal((await store.find(taken))?.status, 'converting');
  });

  it('remove leaves a job that is not marked deleted', async () => {
    const store = await freshStore();
    const { _id: id } = await store.create(newJob());
    await store.remove(id);
    assert.equal((await store.find(id))?._id, id);
  });

  it("lists the owner's jobs newest first, page by page, ties broken by id", async () => {
    const store = await freshStore();
    const base = Date.UTC(2026, 0, 1);
    const ids: string[] = [];
    for (let i = 0; i < 25; i += 1) {
      // Pairs of jobs share a creation time, so the cursor must break ties.
      const job = await store.create(newJob(), new Date(base + Math.floor(i / 2) * 1000));
      ids.push(job._id);
    }
    await store.create(newJob({ ownerId: 'user-2' }));

    const expected = ids
      .map((id, i) => ({ id, t: Math.floor(i / 2) }))
      .sort((a, b) => b.t - a.t || (a.id < b.id ? 1 : -1))
      .map((job) => job.id);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listForOwner('user-1', { limit: 10, cursor });
      seen.push(...page.jobs.map((job) => job._id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen, expected);
  });

  it('refuses a bad page size or a cursor it did not give out', async () => {
    const store = await freshStore();
    await assert.rejects(store.listForOwner('user-1', { limit: 0 }), RangeError);
    await assert.rejects(store.listForOwner('user-1', { limit: 101 }), RangeError);
    await assert.rejects(store.listForOwner('user-1', { cursor: 'not-a-cursor' }), RangeError);
  });

  it('rejects with DependencyUnavailableError when the server is unreachable', async () => {
    const url = new URL(testServers.mongoUrl);
    const proxy = await startTcpProxy(Number(url.port || 27017), url.hostname);
    const proxied = new MongoClient(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`, {
      serverSelectionTimeoutMS: 500,
    });
    try {
      const store = new JobStore(proxied.db(db.databaseName), 'outage');
      await store.find(randomUUID());
      await proxy.cut();
      await assert.rejects(store.find(randomUUID()), DependencyUnavailableError);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});

describe('job cursors', () => {
  it('round-trip, and anything else decodes to undefined', () => {
    const cursor = { createdAt: new Date(1_700_000_000_123), id: randomUUID() };
    assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
    for (const bad of [
      '',
      '!!!',
      Buffer.from('12.not-an-id').toString('base64url'),
      'a'.repeat(300),
    ]) {
      assert.equal(decodeCursor(bad), undefined, bad);
    }
  });
});
