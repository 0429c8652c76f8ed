import { isDuplicateKeyError, mongoError } from '@mp3converter/mongo';
import type { Collection, Db } from 'mongodb';

/** Which email: the MP3 is ready, or the conversion failed. One of each per job at most. */
export type EmailKind = 'done' | 'failed';

/**
 * `sending`: an attempt holds the lease and may be talking to the SMTP server; `sent`: the
 * server accepted the email; `rejected`: the server refused it for good (no such mailbox).
 */
export type DeliveryState = 'sending' | 'sent' | 'rejected';

export interface DeliveryDocument {
  /** `<job id>:<kind>`: the key that makes it one email per job outcome. */
  _id: string;
  jobId: string;
  kind: EmailKind;
  to: string;
  /** The email's Message-ID header, the same on every attempt. */
  messageId: string;
  state: DeliveryState;
  /** While `sending`: no other attempt sends before this time. */
  leaseUntil: Date;
  attempts: number;
  /** The SMTP server's last answer: its acceptance, or why it refused or failed. */
  response?: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
}

export type Begin =
  /**
   * Send it: nobody has, or an earlier attempt died or failed midway (`attempts` > 1). The
   * lease is this attempt's until `leaseUntil`; `attempts` identifies it in finish and release.
   */
  | { action: 'send'; attempts: number; leaseUntil: Date }
  /** Already sent or refused for good: nothing to do. */
  | { action: 'skip'; delivery: DeliveryDocument }
  /** Another attempt holds the lease (a duplicate message on another replica): try later. */
  | { action: 'wait'; until: Date };

export const DELIVERIES_COLLECTION = 'notifications';

/**
 * The record of the emails sent, keyed by job and kind, in MongoDB. An attempt takes a lease
 * before sending (`begin`), and records the outcome after (`finish`), so that a redelivered
 * or duplicate message finds the email sent and sends nothing. The window left: a process that
 * dies after the SMTP server accepted the email but before `finish` wrote `sent` leaves the
 * lease to run out, and the next attempt sends again, with the same Message-ID.
 */
export class DeliveryStore {
  readonly collection: Collection<DeliveryDocument>;
  readonly #leaseMs: number;

  /** `leaseMs`: longer than an attempt may run (its handler's time limit aborts the send). */
  constructor(db: Db, leaseMs: number) {
    this.collection = db.collection<DeliveryDocument>(DELIVERIES_COLLECTION);
    this.#leaseMs = leaseMs;
  }

  async ensureIndexes(): Promise<void> {
    await this.#run(() => this.collection.createIndex({ jobId: 1 }));
  }

  /** Takes the lease on the email `kind` of `jobId`, unless it was sent or is being sent. */
  async begin(
    delivery: { jobId: string; kind: EmailKind; to: string; messageId: string },
    now: Date = new Date(),
  ): Promise<Begin> {
    const _id = deliveryId(delivery.jobId, delivery.kind);
    const leaseUntil = new Date(now.getTime() + this.#leaseMs);
    try {
      await this.#run(() =>
        this.collection.insertOne({
          _id,
          ...delivery,
          state: 'sending',
          leaseUntil,
          attempts: 1,
          createdAt: now,
          updatedAt: now,
        }),
      );
      return { action: 'send', attempts: 1, leaseUntil };
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    // Known already: take the lease over if it ran out (its holder died or gave up).
    const taken = await this.#run(() =>
      this.collection.findOneAndUpdate(
        { _id, state: 'sending', leaseUntil: { $lte: now } },
        { $set: { leaseUntil, to: delivery.to, updatedAt: now }, $inc: { attempts: 1 } },
        { returnDocument: 'after' },
      ),
    );
    if (taken !== null) return { action: 'send', attempts: taken.attempts, leaseUntil };
    const existing = await this.#run(() => this.collection.findOne({ _id }));
    if (existing === null) return this.begin(delivery, now); // removed in between: start over
    if (existing.state === 'sending') return { action: 'wait', until: existing.leaseUntil };
    return { action: 'skip', delivery: existing };
  }

  /**
   * Records the outcome of attempt `attempts`. Resolves false when that attempt no longer
   * holds the lease (it ran out and another attempt took it over): nothing is written then.
   */
  async finish(
    jobId: string,
    kind: EmailKind,
    attempts: number,
    state: Exclude<DeliveryState, 'sending'>,
    response: string,
    now: Date = new Date(),
  ): Promise<boolean> {
    const { matchedCount } = await this.#run(() =>
      this.collection.updateOne(
        { _id: deliveryId(jobId, kind), state: 'sending', attempts },
        { $set: { state, response, finishedAt: now, updatedAt: now } },
      ),
    );
    return matchedCount === 1;
  }

  /** Gives attempt `attempts`'s lease back after it failed, so the retry need not wait for it. */
  async release(
    jobId: string,
    kind: EmailKind,
    attempts: number,
    response: string,
    now: Date = new Date(),
  ): Promise<void> {
    await this.#run(() =>
      this.collection.updateOne(
        { _id: deliveryId(jobId, kind), state: 'sending', attempts },
        { $set: { leaseUntil: now, response, updatedAt: now } },
      ),
    );
  }

  async find(jobId: string, kind: EmailKind): Promise<DeliveryDocument | undefined> {
    return (
      (await this.#run(() => this.collection.findOne({ _id: deliveryId(jobId, kind) }))) ??
      undefined
    );
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw mongoError(error);
    }
  }
}

export function deliveryId(jobId: string, kind: EmailKind): string {
  return `${jobId}:${kind}`;
}
