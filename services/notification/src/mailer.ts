import { createTransport } from 'nodemailer';
import { TransientError, type AppErrorOptions } from '@mp3converter/errors';
import type { SmtpConfig } from './config.ts';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<…@…>`, the same on every attempt of one email, so mail systems can drop a repeat. */
  messageId: string;
  /** Aborting it stops the send, closing its connection if the email is on the way. */
  signal?: AbortSignal;
}

/** The SMTP server refused this email for good (5xx: no such mailbox, message refused). */
export class EmailRejectedError extends Error {
  override name = 'EmailRejectedError';
  readonly responseCode: number | undefined;
  constructor(message: string, responseCode: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.responseCode = responseCode;
  }
}

/** The SMTP server could not be reached, or answered "try later" (4xx); retried later. */
export class SmtpUnavailableError extends TransientError {
  override name = 'SmtpUnavailableError';
  constructor(message: string, options?: AppErrorOptions) {
    super('SMTP_UNAVAILABLE', message, options);
  }
}

export interface Mailer {
  /** Resolves with the server's acceptance; rejects with EmailRejectedError or SmtpUnavailableError. */
  send(email: OutgoingEmail): Promise<string>;
  /** Connects and logs in (if configured): true when the server could be used. */
  verify(): Promise<boolean>;
  close(): void;
}

interface SmtpFailure {
  code?: string;
  /** The SMTP command answered: `RCPT TO`, `MAIL FROM`, `AUTH PLAIN`, … */
  command?: string;
  responseCode?: number;
  permanent?: boolean;
  response?: string;
  message?: string;
}

/** RFC 3463 statuses that say the address is wrong: bad mailbox, bad domain, disabled mailbox. */
const BAD_ADDRESS_STATUS = /^5\.(1\.\d{1,3}|2\.1)$/;
/** Without an enhanced status: mailbox unavailable, user not local, mailbox name not allowed. */
const BAD_ADDRESS_REPLIES = new Set([550, 551, 553]);

/**
 * How a failed send ends. Only the server's permanent refusal of the recipient's address
 * ("550 5.1.1 no such user") is final: retrying would get the same answer. Everything else is
 * retried, then dead-lettered where an operator can replay it: connection failures, timeouts,
 * 4xx, and also 5xx that are about us rather than the recipient, which the operator can fix
 * (a refused or missing login, "530 5.7.0 authentication required" at MAIL FROM, "550 5.7.1
 * relaying denied", "550 5.4.5 daily sending limit exceeded").
 */
export function classifySmtpError(error: unknown): EmailRejectedError | SmtpUnavailableError {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SmtpFailure;
  const text = failure.response ?? failure.message ?? String(error);
  if (
    failure.code === 'EENVELOPE' &&
    failure.command === 'RCPT TO' &&
    failure.permanent === true &&
    isBadAddress(failure.response ?? '', failure.responseCode)
  ) {
    return new EmailRejectedError(text, failure.responseCode, { cause: error });
  }
  const code = failure.code === undefined ? '' : `${failure.code}: `;
  return new SmtpUnavailableError(`${code}${text}`, { cause: error });
}

function isBadAddress(response: string, responseCode: number | undefined): boolean {
  const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1];
  if (enhanced !== undefined) return BAD_ADDRESS_STATUS.test(enhanced);
  return responseCode !== undefined && BAD_ADDRESS_REPLIES.has(responseCode);
}

/**
 * SMTP through nodemailer's pool: up to `maxConnections` connections, kept open between
 * emails; more emails at once wait for one.
 */
export function createMailer(
  config: SmtpConfig,
  from: { address: string; name: string },
  maxConnections: number,
): Mailer {
  const transport = createTransport({
    pool: true,
    maxConnections,
    host: config.host,
    port: config.port,
    secure: config.tls === 'implicit',
    requireTLS: config.tls === 'starttls',
    ignoreTLS: config.tls === 'none',
    ...(config.auth === undefined ? {} : { auth: config.auth }),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    send: async (email) => {
      try {
        // The pool's result type is `any` in nodemailer's declarations.
        const info = (await transport.sendMail({
          from: { address: from.address, name: from.name },
          to: email.to,
          subject: email.subject,
          text: email.text,
          html: email.html,
          messageId: email.messageId,
          ...(email.signal === undefined ? {} : { signal: email.signal }),
        })) as { rejected: unknown[]; response: string };
        if (info.rejected.length > 0) {
          throw new EmailRejectedError(`the server refused ${email.to}`, undefined);
        }
        return info.response;
      } catch (error) {
        if (error instanceof EmailRejectedError) throw error;
        throw classifySmtpError(error);
      }
    },
    verify: async () => {
      try {
        return await transport.verify();
      } catch {
        return false;
      }
    },
    close: () => {
      transport.close();
    },
  };
}
