import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmailRejectedError, SmtpUnavailableError, classifySmtpError } from '../src/mailer.ts';

/** An error shaped as nodemailer 10 makes them (smtp-connection's _formatError). */
function smtpError(code: string, command: string, response?: string): Error {
  const responseCode = response === undefined ? undefined : Number(response.slice(0, 3));
  return Object.assign(new Error(`failed: ${response ?? code}`), {
    code,
    command,
    ...(response === undefined
      ? {}
      : {
          response,
          responseCode,
          permanent: responseCode !== undefined && responseCode >= 500 && responseCode !== 503,
        }),
  });
}

describe('classifySmtpError', () => {
  it('gives up on a recipient address the server refuses for good', () => {
    for (const response of [
      '550 5.1.1 The email account that you tried to reach does not exist',
      '550 no such mailbox',
      '553 5.1.3 mailbox name not allowed',
      '550 5.2.1 The email account that you tried to reach is disabled',
    ]) {
      const classified = classifySmtpError(smtpError('EENVELOPE', 'RCPT TO', response));
      assert.ok(classified instanceof EmailRejectedError, response);
      assert.equal(classified.responseCode, Number(response.slice(0, 3)));
    }
  });

  it('retries what the operator can fix or time can heal', () => {
    const retried: [string, string, string | undefined][] = [
      ['EENVELOPE', 'RCPT TO', '451 4.7.1 try again later'],
      ['EENVELOPE', 'RCPT TO', '550 5.7.1 Relaying denied'],
      ['EENVELOPE', 'RCPT TO', '550 5.4.5 Daily user sending limit exceeded'],
      ['EENVELOPE', 'MAIL FROM', '530 5.7.0 Authentication Required'],
      ['EENVELOPE', 'MAIL FROM', '550 5.1.0 sender rejected'],
      ['EMESSAGE', 'DATA', '554 5.7.1 message refused'],
      ['EAUTH', 'AUTH PLAIN', '535 5.7.8 Username and Password not accepted'],
      ['ECONNECTION', 'CONN', undefined],
      ['ETIMEDOUT', 'CONN', undefined],
      ['ESOCKET', 'CONN', undefined],
    ];
    for (const [code, command, response] of retried) {
      const classified = classifySmtpError(smtpError(code, command, response));
      assert.ok(classified instanceof SmtpUnavailableError, `${command} ${response ?? code}`);
      assert.equal(classified.retryable, true);
    }
    assert.ok(classifySmtpError('not even an error') instanceof SmtpUnavailableError);
  });
});
