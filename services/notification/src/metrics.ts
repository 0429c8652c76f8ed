import { ServiceMetrics } from '@mp3converter/service';
import type { EmailKind } from './deliveries.ts';

/**
 * How a message ended: `sent` (the SMTP server accepted the email), `duplicate` (it had been
 * sent already), `skipped` (the job was deleted or is unknown), `rejected` (the server refused
 * the recipient or the email for good), `retried` (SMTP or MongoDB unavailable: tried later).
 */
export type EmailOutcome = 'sent' | 'duplicate' | 'skipped' | 'rejected' | 'retried';

const OUTCOMES: EmailOutcome[] = ['sent', 'duplicate', 'skipped', 'rejected', 'retried'];
const KINDS: EmailKind[] = ['done', 'failed'];

/** The notification service's Prometheus metrics, served on GET /metrics. */
export class NotificationMetrics extends ServiceMetrics {
  readonly #emails = this.counter(
    'emails_total',
    'Messages handled, by email kind (done, failed) and outcome (sent, duplicate, skipped, rejected, retried)',
    { kind: KINDS, outcome: OUTCOMES },
  );
  readonly #sendSeconds = this.histogram(
    'email_send_duration_seconds',
    'Time the SMTP server took to accept or refuse an email, by result (ok, error)',
    [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    { result: ['ok', 'error'] },
  );

  outcome(kind: EmailKind, outcome: EmailOutcome): void {
    this.#emails.inc({ kind, outcome });
  }

  sent(seconds: number, ok: boolean): void {
    this.#sendSeconds.observe({ result: ok ? 'ok' : 'error' }, seconds);
  }
}
