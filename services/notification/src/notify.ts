import { setTimeout as sleep } from 'node:timers/promises';
import { HandlerAbortedError, type MessageContext, type MessageHandler } from '@mp3converter/amqp';
import type { ConversionFailedMessage, Mp3Message } from '@mp3converter/contracts';
import { downloadUrl, signDownload } from '@mp3converter/download-links';
import { DependencyUnavailableError, TransientError } from '@mp3converter/errors';
import type { JobDocument, JobStore } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import type { DeliveryStore, EmailKind } from './deliveries.ts';
import { failureEmail, successEmail, type ComposedEmail } from './emails.ts';
import { EmailRejectedError, type Mailer } from './mailer.ts';
import type { NotificationMetrics } from './metrics.ts';

export interface NotifyDeps {
  jobs: JobStore;
  deliveries: DeliveryStore;
  mailer: Mailer;
  metrics: NotificationMetrics;
  links: { publicBaseUrl: string; secret: string; ttlSeconds: number };
  /** The domain of the Message-IDs: the sender address's. */
  messageIdDomain: string;
  /** How much longer a lease lasts than its attempt may: a send ends this long before it. */
  leaseMarginMs: number;
  log: Logger;
}

/** An email being sent by another attempt right now (a duplicate message): try again later. */
export class EmailInProgressError extends TransientError {
  override name = 'EmailInProgressError';
  constructor(jobId: string, kind: EmailKind) {
    super(
      'EMAIL_IN_PROGRESS',
      `the ${kind} email of job ${jobId} is being sent by another attempt`,
    );
  }
}

/** The Message-ID of the `kind` email of a job: the same on every attempt and every replica. */
export function emailMessageId(jobId: string, kind: EmailKind, domain: string): string {
  return `<${jobId}.${kind}@${domain}>`;
}

/** Handles `mp3`: the "MP3 Download" email with a signed link, once per job. */
export function mp3Handler(deps: NotifyDeps): MessageHandler<Mp3Message> {
  return (message, context) =>
    notify(deps, message.job_id, 'done', context, (job, now) => {
      const mp3 = job.mp3;
      if (mp3 === undefined) return undefined;
      const fid = mp3.fid.toHexString();
      const link = signDownload(deps.links.secret, fid, deps.links.ttlSeconds, now);
      return successEmail({
        jobId: job._id,
        filename: job.filename,
        mp3Filename: mp3.filename,
        fid,
        durationSeconds: mp3.durationSeconds,
        sizeBytes: mp3.size,
        downloadUrl: downloadUrl(link, deps.links.publicBaseUrl),
        linkExpiresAt: new Date(link.expires * 1000),
        publicBaseUrl: deps.links.publicBaseUrl,
      });
    });
}

/** Handles `conversion-failed`: the email saying why, and what to try, once per job. */
export function conversionFailedHandler(deps: NotifyDeps): MessageHandler<ConversionFailedMessage> {
  return (message, context) =>
    notify(deps, message.job_id, 'failed', context, (job) =>
      failureEmail({
        jobId: job._id,
        filename: job.filename,
        // The job's own record; the event's copy if the job has none (it always should).
        error: job.error ?? message.error,
        publicBaseUrl: deps.links.publicBaseUrl,
      }),
    );
}

/** How long to wait at most between tries to record a sent email, and what to leave of the lease. */
const RECORD_RETRY_MAX_MS = 5_000;
const RECORD_MARGIN_MS = 5_000;

const EXPECTED_STATUS: Record<EmailKind, JobDocument['status']> = {
  done: 'done',
  failed: 'failed',
};

/**
 * One email per job and kind: the job is read for what the email says and whom it goes to
 * (a deleted or unknown job gets none), the delivery record is checked and leased, the email
 * sent, the outcome recorded. Throws to have the message retried when SMTP or MongoDB is away.
 */
async function notify(
  deps: NotifyDeps,
  jobId: string,
  kind: EmailKind,
  context: MessageContext,
  compose: (job: JobDocument, now: Date) => ComposedEmail | undefined,
): Promise<void> {
  const log = deps.log.child({ jobId, kind, attempt: context.attempt });
  const job = await deps.jobs.findAny(jobId);
  if (job === undefined || job.deletedAt !== undefined) {
    deps.metrics.outcome(kind, 'skipped');
    log.info(job === undefined ? 'unknown job: no email' : 'job deleted by its owner: no email');
    return;
  }
  if (job.status !== EXPECTED_STATUS[kind]) {
    deps.metrics.outcome(kind, 'skipped');
    log.warn({ status: job.status }, `the job is not ${EXPECTED_STATUS[kind]}: no email`);
    return;
  }
  const now = new Date();
  const email = compose(job, now);
  if (email === undefined) {
    deps.metrics.outcome(kind, 'skipped');
    log.warn('the job is done but has no MP3 recorded: no email');
    return;
  }
  const messageId = emailMessageId(jobId, kind, deps.messageIdDomain);
  const lease = await deps.deliveries.begin({ jobId, kind, to: job.ownerEmail, messageId }, now);
  if (lease.action === 'skip') {
    deps.metrics.outcome(kind, 'duplicate');
    log.info({ state: lease.delivery.state }, 'email already handled: not sent again');
    return;
  }
  if (lease.action === 'wait') {
    deps.metrics.outcome(kind, 'retried');
    throw new EmailInProgressError(jobId, kind);
  }
  if (lease.attempts > 1) {
    // An earlier attempt failed, or died after the server may have taken the email: the
    // Message-ID is the same, so a mail system that has it already can drop this one.
    log.info({ attempts: lease.attempts }, 'sending again after an earlier attempt');
  }
  const started = performance.now();
  let response: string;
  try {
    response = await deps.mailer.send({
      to: job.ownerEmail,
      messageId,
      ...email,
      signal: sendSignal(context.signal, lease.leaseUntil.getTime() - deps.leaseMarginMs),
    });
    deps.metrics.sent((performance.now() - started) / 1000, true);
  } catch (error) {
    deps.metrics.sent((performance.now() - started) / 1000, false);
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof EmailRejectedError) {
      await deps.deliveries.finish(jobId, kind, lease.attempts, 'rejected', reason);
      deps.metrics.outcome(kind, 'rejected');
      log.warn(
        { err: error, to: job.ownerEmail },
        'the SMTP server refused the email: not retried',
      );
      return;
    }
    deps.metrics.outcome(kind, 'retried');
    await deps.deliveries
      .release(jobId, kind, lease.attempts, reason)
      .catch((releaseError: unknown) => {
        log.warn({ err: releaseError }, 'could not give the lease back; the retry waits for it');
      });
    throw error;
  }
  // Sent: from here on a retry would send it again, so a MongoDB outage is waited out here,
  // as long as the lease lasts, rather than thrown into a retry.
  const recorded = await untilRecorded(
    () => deps.deliveries.finish(jobId, kind, lease.attempts, 'sent', response),
    lease.leaseUntil,
    log,
  );
  if (!recorded) log.warn({ messageId }, 'email sent, but its lease had run out meanwhile');
  deps.metrics.outcome(kind, 'sent');
  log.info({ messageId }, 'email sent');
}

/**
 * What aborts a send once it has begun: the handler's time limit, its consumer stopping, and
 * the lease running low, but not its channel closing. The message then comes back to another
 * attempt, which waits while this one holds the lease; giving up a send the server may already
 * have taken would have that attempt send the email a second time. The consumer no longer
 * times a handler whose channel closed, so the send ends on its own a lease margin before the
 * lease does (`untilMs`), and no other attempt can take the lease over while it runs.
 */
function sendSignal(handler: AbortSignal, untilMs: number): AbortSignal {
  if (handler.aborted) return handler;
  const controller = new AbortController();
  handler.addEventListener(
    'abort',
    () => {
      const reason: unknown = handler.reason;
      if (reason instanceof HandlerAbortedError && reason.code === 'AMQP_CHANNEL_CLOSED') return;
      controller.abort(reason);
    },
    { once: true },
  );
  return AbortSignal.any([
    controller.signal,
    AbortSignal.timeout(Math.max(0, untilMs - Date.now())),
  ]);
}

/** Runs `record` until it succeeds, waiting out MongoDB outages until shortly before `until`. */
async function untilRecorded(
  record: () => Promise<boolean>,
  until: Date,
  log: Logger,
): Promise<boolean> {
  for (let delayMs = 250; ; delayMs = Math.min(2 * delayMs, RECORD_RETRY_MAX_MS)) {
    try {
      return await record();
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) throw error;
      if (Date.now() + delayMs > until.getTime() - RECORD_MARGIN_MS) throw error;
      log.warn({ err: error }, 'email sent, but not recorded yet: MongoDB is unavailable');
      await sleep(delayMs);
    }
  }
}
