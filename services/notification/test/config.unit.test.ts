import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@mp3converter/config';
import { loadNotificationConfig } from '../src/config.ts';

const deployed = {
  NODE_ENV: 'production',
  MONGO_URL: 'mongodb://mongodb:27017',
  AMQP_URL: 'amqp://user:pw@rabbitmq:5672',
  SMTP_HOST: 'smtp.gmail.com',
  SMTP_USER: 'someone@gmail.com',
  SMTP_PASSWORD: 'abcd efgh ijkl mnop',
  PUBLIC_BASE_URL: 'http://mp3converter.com',
  DOWNLOAD_LINK_SECRET: 'a-deployment-secret-of-at-least-32-bytes',
};

function without(name: keyof typeof deployed): Record<string, string> {
  return Object.fromEntries(Object.entries(deployed).filter(([key]) => key !== name));
}

describe('notification config', () => {
  it('defaults to STARTTLS on 587 with a 7-day link, as Gmail and most providers expect', () => {
    const config = loadNotificationConfig(deployed);
    assert.deepEqual(config.smtp, {
      host: 'smtp.gmail.com',
      port: 587,
      tls: 'starttls',
      auth: { user: 'someone@gmail.com', pass: 'abcd efgh ijkl mnop' },
      timeoutMs: 30_000,
    });
    assert.equal(config.links.ttlSeconds, 7 * 24 * 60 * 60);
    assert.equal(config.mail.fromAddress, 'no-reply@mp3converter.com');
  });

  it('picks the port for the TLS mode unless SMTP_PORT says otherwise', () => {
    assert.equal(loadNotificationConfig({ ...deployed, SMTP_TLS: 'implicit' }).smtp.port, 465);
    assert.equal(
      loadNotificationConfig({ ...deployed, SMTP_TLS: 'implicit', SMTP_PORT: '2465' }).smtp.port,
      2465,
    );
  });

  it('runs against the development mailbox with NODE_ENV=development alone', () => {
    const config = loadNotificationConfig({ NODE_ENV: 'development' });
    assert.equal(config.smtp.host, '127.0.0.1');
    assert.equal(config.smtp.port, 1025);
    assert.equal(config.smtp.tls, 'none');
    assert.equal(config.smtp.auth, undefined);
  });

  it('refuses a user without a password, an unknown TLS mode, and a missing secret', () => {
    assert.throws(() => loadNotificationConfig(without('SMTP_PASSWORD')), ConfigError);
    assert.throws(() => loadNotificationConfig({ ...deployed, SMTP_TLS: 'ssl' }), ConfigError);
    assert.throws(
      () => loadNotificationConfig({ ...deployed, SMTP_TLS: 'none' }),
      /SMTP_TLS=none would send the SMTP password unencrypted/,
    );
    assert.throws(
      () => loadNotificationConfig(without('DOWNLOAD_LINK_SECRET')),
      /DOWNLOAD_LINK_SECRET/,
    );
  });
});
