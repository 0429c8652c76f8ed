import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, env, loadConfig } from '../src/index.ts';

const schema = z.object({
  NODE_ENV: env.nodeEnv,
  PORT: env.port(8080),
  SECRET: env.secret(32),
  ENABLED: env.boolean(false),
  URL: env.url(['amqp', 'amqps']),
});

describe('loadConfig', () => {
  it('names every missing or bad variable in one error', () => {
    assert.throws(
      () => loadConfig(schema, { env: { PORT: '99999', ENABLED: 'maybe', URL: 'http://x' } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 4);
        assert.match(error.message, /PORT/);
        assert.match(error.message, /SECRET is required/);
        assert.match(error.message, /ENABLED/);
        assert.match(error.message, /URL: must be a amqp or amqps URL/);
        return true;
      },
    );
  });

  it('applies development defaults only when NODE_ENV is development', () => {
    const developmentDefaults = { SECRET: 'x'.repeat(32), URL: 'amqp://localhost' };
    const dev = loadConfig(schema, { env: { NODE_ENV: 'development' }, developmentDefaults });
    assert.equal(dev.SECRET, 'x'.repeat(32));
    assert.throws(() => loadConfig(schema, { env: {}, developmentDefaults }), /SECRET is required/);
    assert.throws(
      () => loadConfig(schema, { env: { NODE_ENV: 'test' }, developmentDefaults }),
      /SECRET is required/,
    );
  });

  it('treats empty values as unset, parses types and freezes the result', () => {
    const config = loadConfig(schema, {
      env: { SECRET: 's'.repeat(32), PORT: '', ENABLED: 'yes', URL: 'amqps://broker:5671' },
    });
    assert.equal(config.PORT, 8080);
    assert.equal(config.ENABLED, true);
    assert.equal(config.NODE_ENV, 'production');
    assert.ok(Object.isFrozen(config));
  });

  it('measures secret length in bytes', () => {
    // 11 three-byte characters are 33 bytes.
    const config = loadConfig(schema, { env: { SECRET: '€'.repeat(11), URL: 'amqp://x' } });
    assert.equal(config.SECRET.length, 11);
  });
});
