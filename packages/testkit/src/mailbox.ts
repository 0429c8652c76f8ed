import { testServers } from './env.ts';
import { waitFor } from './wait.ts';

/** An email as the development mailbox (maildev) received it. */
export interface MailboxEmail {
  id: string;
  subject: string;
  text?: string;
  html?: string;
  from: { address: string; name: string }[];
  to: { address: string; name: string }[];
  /** Lower-case names: `message-id`, `subject`, … */
  headers: Record<string, string>;
  time: string;
}

/**
 * The development mailbox's REST API (maildev 3: /api/email). Tests send to addresses of
 * their own (a random local part) and look only at those, so they never see each other's.
 */
export class Mailbox {
  readonly url: string;

  constructor(url: string = testServers.mailboxUrl) {
    this.url = url;
  }

  /** The emails to `address`, in the order they arrived. */
  async emailsTo(address: string): Promise<MailboxEmail[]> {
    const query = new URLSearchParams({ 'to.address': address, sort: 'asc' });
    const response = await fetch(new URL(`/api/email?${query.toString()}`, this.url));
    if (!response.ok) throw new Error(`GET /api/email: HTTP ${response.status}`);
    return (await response.json()) as MailboxEmail[];
  }

  /** Waits until `count` emails to `address` have arrived, and resolves them. */
  async waitForEmails(address: string, count = 1, timeoutMs = 20_000): Promise<MailboxEmail[]> {
    return waitFor(
      async () => {
        const emails = await this.emailsTo(address);
        return emails.length >= count ? emails : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${count} email(s) to ${address}` },
    );
  }

  /** Deletes every email to `address`. */
  async deleteTo(address: string): Promise<void> {
    for (const email of await this.emailsTo(address)) {
      const response = await fetch(
        new URL(`/api/email/${encodeURIComponent(email.id)}`, this.url),
        {
          method: 'DELETE',
        },
      );
      if (!response.ok && response.status !== 404) {
        throw new Error(`DELETE /api/email/${email.id}: HTTP ${response.status}`);
      }
    }
  }
}
