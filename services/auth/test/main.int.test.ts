import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createTestDatabase, rawRequest } from '@mp3converter/testkit';
import { authEnv } from './support.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function run(env: Record<string, string>) {
  return spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the service until it exits on its own; for start-up failures. */
async function runToExit(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const child = run(env);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stderr };
}

describe('auth process', () => {
  it('exits 1 naming every missing or bad variable when configuration is wrong', async () => {
    const { code, stderr } = await runToExit({
      NODE_ENV: 'production',
      JWT_SECRET: 'too-short',
      MYSQL_PORT: 'not-a-port',
    });
    assert.equal(code, 1);
    for (const name of [
      'MYSQL_HOST is required',
      'MYSQL_USER is required',
      'MYSQL_PASSWORD is required',
      'MYSQL_DATABASE is required',
      'MYSQL_PORT',
      'JWT_SECRET: must be at least 32 bytes',
    ]) {
      assert.ok(stderr.includes(name), `stderr names ${name}: ${stderr}`);
    }
    assert.ok(!stderr.includes('too-short'), 'the secret itself is not printed');
    assert.equal(stderr.trim().split('\n').length, 1, 'one message');
  });

  it('gives secrets no defaults outside development', async () => {
    const { code, stderr } = await runToExit({
      NODE_ENV: 'production',
      MYSQL_HOST: 'h',
      MYSQL_USER: 'u',
      MYSQL_PASSWORD: 'p',
      MYSQL_DATABASE: 'd',
    });
    assert.equal(code, 1);
    assert.match(stderr, /JWT_SECRET is required/);
  });

  it('starts, logs JSON lines, serves until SIGTERM, then exits 0', async () => {
    const database = await createTestDatabase();
    try {
      const child = run(authEnv(database.name, { LOG_LEVEL: 'info' }));
      const lines = createInterface({ input: child.stdout });
      let port = 0;
      for await (const line of lines) {
        const entry = JSON.parse(line) as {
          msg: string;
          port?: number;
          service: string;
          level: string;
        };
        assert.equal(entry.service, 'auth');
        if (entry.msg === 'listening') port = entry.port ?? 0;
        if (entry.msg === 'ready') break;
      }
      assert.ok(port > 0);
      assert.equal((await rawRequest(`http://127.0.0.1:${port}/readyz`)).status, 200);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
    } finally {
      await database.drop();
    }
  });
});
