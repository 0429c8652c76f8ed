import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
export class NotificationMetrics {
  readonly registry = new Registry();
  readonly #emails = new Counter({
    name: 'emails_total',
    help: 'Messages handled, by email kind (done, failed) and outcome (sent, duplicate, skipped, rejected, retried)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #sendSeconds = new Histogram({
    name: 'email_send_duration_seconds',
    help: 'Time the SMTP server took to accept or refuse an email, by result (ok, error)',
    labelNames: ['result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const kind of KINDS)
      for (const outcome of OUTCOMES) this.#emails.inc({ kind, outcome }, 0);
  }

  outcome(kind: EmailKind, outcome: EmailOutcome): void {
    this.#emails.inc({ kind, outcome });
  }

  sent(seconds: number, ok: boolean): void {
    this.#sendSeconds.observe({ result: ok ? 'ok' : 'error' }, seconds);
  }
}
