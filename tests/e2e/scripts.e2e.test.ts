// ./scripts/up starts what is down (scripts/lib/services.sh, infra.sh). Run right after a
// service was killed (a zombie its parent has not reaped yet: alive to `kill -0`) or while a
// service or RabbitMQ was still stopping after SIGTERM, it once took the old process for a
// running one: it failed ("converter exited during start-up", "not ready after 60s") and left
// the broker down. It waits for the old process to answer or go, then starts a new one.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestVhost, waitFor, type TestVhost } from '@mp3converter/testkit';
import { PrivateServers, freePort } from './system.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIBS = ['common', 'infra', 'services'].map((lib) => `source scripts/lib/${lib}.sh`);

interface Script {
  child: ChildProcess;
  /** What it printed so far, stdout and stderr together. */
  output(): string;
  /** Its exit code. */
  exited: Promise<number | null>;
}

/**
 * Runs `commands` in bash after the scripts' libraries, as ./scripts/up does. With
 * `neverReaps`, bash is made a child subreaper first: the processes it starts in the
 * background are its children when their own parent exits, and it never reaps them once it
 * has exec'ed into something that does not wait (sleep).
 */
function script(
  commands: string,
  env: Record<string, string>,
  { neverReaps = false } = {},
): Script {
  const bash = ['bash', '-c', [...LIBS, commands].join('\n')];
  const subreaper =
    'import ctypes, os, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execvp(sys.argv[1], sys.argv[1:])';
  const [command, ...args] = neverReaps ? ['python3', '-c', subreaper, ...bash] : bash;
  const child = spawn(command ?? 'bash', args, {
    cwd: ROOT,
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (part: Buffer) => (output += part.toString()));
  child.stderr.on('data', (part: Buffer) => (output += part.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return { child, output: () => output, exited };
}

async function succeeds(run: Script): Promise<string> {
  const code = await run.exited;
  assert.equal(code, 0, run.output());
  return run.output();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('scripts/up, when the old process is not quite gone', () => {
  let dir: string;
  let vhost: TestVhost;
  let env: Record<string, string>;
  let reaper: Script | undefined;
  const START = 'start_service converter\nwait_service converter';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp3test-scripts-'));
    vhost = await createTestVhost();
    env = {
      MP3_STATE_DIR: join(dir, 'state'),
      CONVERTER_PORT: String(await freePort()),
      AMQP_URL: vhost.amqpUrl,
      TEMP_DIR: join(dir, 'converter-tmp'),
    };
  });

  after(async () => {
    await succeeds(script('stop_services', env));
    reaper?.child.kill('SIGKILL');
    await reaper?.exited;
    await vhost.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const converterPid = async (): Promise<number> =>
    Number(await readFile(join(env.MP3_STATE_DIR ?? '', 'run/svc-converter.pid'), 'utf8'));

  it('starts a service again that was killed and is a zombie not yet reaped', async () => {
    // Started under a parent that never reaps it, so the killed converter stays a zombie for
    // as long as the test needs (this sandbox's init reaps, but not at once).
    reaper = script(`${START}\necho started\nexec sleep 600`, env, { neverReaps: true });
    await waitFor(() => reaper?.output().includes('started'), {
      timeoutMs: 90_000,
      what: `the converter started\n${reaper.output()}`,
    });
    const old = await converterPid();
    process.kill(old, 'SIGKILL');
    await waitFor(async () => (await readFile(`/proc/${old}/stat`, 'utf8')).split(' ')[2] === 'Z', {
      what: 'the killed converter to be a zombie',
    });
    assert.ok(alive(old), 'a zombie is alive to kill -0');

    await succeeds(script(START, env));
    const started = await converterPid();
    assert.notEqual(started, old);
    assert.ok(alive(started));
  });

  it('waits for a service still stopping after SIGTERM, then starts a new one', async () => {
    const old = await converterPid();
    // Stopped before its SIGTERM arrives, so it is provably still there when the script looks.
    process.kill(old, 'SIGSTOP');
    process.kill(old, 'SIGTERM');
    const run = script(START, env);
    await waitFor(() => run.output().includes('waiting for it to answer or exit'), {
      timeoutMs: 30_000,
      what: `the script waiting for the old converter\n${run.output()}`,
    });
    process.kill(old, 'SIGCONT');
    const output = await succeeds(run);
    assert.match(output, /has exited; starting a new one/);
    assert.match(output, /converter is ready/);
    const started = await converterPid();
    assert.notEqual(started, old);
    assert.ok(alive(started));
  });

  it('starts RabbitMQ again when it was still stopping after SIGTERM', async () => {
    const servers = await PrivateServers.start();
    try {
      const pidfile = join(servers.env.MP3_STATE_DIR ?? '', 'run/rabbitmq.pid');
      const old = Number(await readFile(pidfile, 'utf8'));
      process.kill(old, 'SIGTERM');
      const port = Number(servers.env.MP3_RABBITMQ_PORT);
      // A stopping broker closes its AMQP port at once and exits seconds later.
      await waitFor(async () => !(await portOpen(port)), { what: 'the AMQP port closed' });
      assert.ok(alive(old), 'the broker is still stopping');
      await servers.start('rabbitmq');
      const started = Number(await readFile(pidfile, 'utf8'));
      assert.notEqual(started, old);
      assert.ok(await portOpen(port), 'the broker is up');
    } finally {
      await servers.close();
    }
  });
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}
