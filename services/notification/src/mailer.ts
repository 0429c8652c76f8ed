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
  responseCode?: number;
  permanent?: boolean;
  response?: string;
  message?: string;
}

/**
 * How a failed send ends: only a permanent refusal of this email (a 5xx to its recipient or
 * its content) is final. Everything else is retried: connection failures and timeouts, 4xx,
 * and also a refused login (EAUTH): that is the operator's to fix, and the email should
 * still go once the credentials are right.
 */
export function classifySmtpError(error: unknown): EmailRejectedError | SmtpUnavailableError {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SmtpFailure;
  const text = failure.response ?? failure.message ?? String(error);
  if (failure.permanent === true && (failure.code === 'EENVELOPE' || failure.code === 'EMESSAGE')) {
    return new EmailRejectedError(text, failure.responseCode, { cause: error });
  }
  const code = failure.code === undefined ? '' : `${failure.code}: `;
  return new SmtpUnavailableError(`${code}${text}`, { cause: error });
}

/** SMTP through nodemailer's pool: one connection per email sent at once, kept open between emails. */
export function createMailer(
  config: SmtpConfig,
  from: { address: string; name: string },
  concurrency: number,
): Mailer {
  const transport = createTransport({
    pool: true,
    maxConnections: concurrency,
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
