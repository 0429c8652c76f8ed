import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('fixtures/service.ts', import.meta.url));

interface LogLine {
  level: string;
  msg: string;
  service: string;
  err?: { message: string; type: string };
  [field: string]: unknown;
}

const running = new Set<ChildProcessWithoutNullStreams>();

// A test that failed half-way must not leave its child running, nor this file.
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** The fixture as a child process, its stdout parsed as JSON lines as they come. */
class Fixture {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: LogLine[] = [];
  readonly exited: Promise<number | null>;
  #waiters: { msg: string; resolve: () => void }[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [FIXTURE, ...args], {
      env: { PATH: process.env.PATH ?? '' },
    });
    this.child.stdin.end();
    running.add(this.child);
    this.child.on('exit', () => running.delete(this.child));
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
    createInterface({ input: this.child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as LogLine;
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (waiter.msg !== line.msg) return true;
        waiter.resolve();
        return false;
      });
    });
  }

  /** Resolves when a line with this message has been logged; fails if the process exits first. */
  async logged(msg: string): Promise<void> {
    if (this.lines.some((line) => line.msg === msg)) return;
    const seen = new Promise<void>((resolve) => this.#waiters.push({ msg, resolve }));
    await Promise.race([
      seen,
      this.exited.then((code) => {
        throw new Error(`exited with ${code} before logging "${msg}"`);
      }),
    ]);
  }

  /** Exit code, once stdout is fully read. */
  async exitCode(): Promise<number | null> {
    const [code] = await Promise.all([this.exited, once(this.child.stdout, 'close')]);
    return code;
  }

  /**
   * The messages logged, sorted: pino's asynchronous stdout writes a line
   * still in flight at exit after the lines it flushes synchronously, so the
   * order on stdout is not the order of logging (the timestamps are).
   */
  messages(): string[] {
    return this.lines.map((line) => line.msg).sort();
  }
}

describe('handleCrashes', () => {
  const crashes = [
    {
      mode: 'throw',
      what: 'an uncaught exception',
      msg: 'uncaught exception',
      error: 'boom in a timer',
    },
    {
      mode: 'reject',
      what: 'an unhandled rejection',
      msg: 'unhandled rejection',
      error: 'boom in a promise',
    },
  ];
  for (const crash of crashes) {
    it(`logs ${crash.what} as one fatal JSON line and exits 1`, async () => {
      const fixture = new Fixture([crash.mode]);
      assert.equal(await fixture.exitCode(), 1);
      const fatal = fixture.lines.filter((line) => line.level === 'fatal');
      assert.equal(fatal.length, 1, JSON.stringify(fixture.lines));
      assert.equal(fatal[0]!.msg, crash.msg);
      assert.equal(fatal[0]!.service, 'fixture');
      assert.equal(fatal[0]!.err?.message, crash.error);
      assert.equal(fatal[0]!.err.type, 'Error');
    });
  }
});

describe('onShutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`runs shutdown once on ${signal} and exits 0`, async () => {
      const fixture = new Fixture(['serve']);
      await fixture.logged('ready');
      fixture.child.kill(signal);
      assert.equal(await fixture.exitCode(), 0);
      assert.deepEqual(
        fixture.messages(),
        ['ready', 'shutdown called', 'shutting down', 'stopped'].sort(),
      );
      assert.equal(fixture.lines.find((line) => line.msg === 'shutting down')?.signal, signal);
    });
  }

  it('exits 1 when shutdown fails, logging why', async () => {
    const fixture = new Fixture(['shutdown-fails']);
    await fixture.logged('ready');
    fixture.child.kill('SIGTERM');
    assert.equal(await fixture.exitCode(), 1);
    const failed = fixture.lines.find((line) => line.msg === 'shutdown failed');
    assert.equal(failed?.level, 'error');
    assert.equal(failed.err?.message, 'could not close the broker connection');
  });

  it('exits 1 when shutdown does not finish within its timeout', async () => {
    const fixture = new Fixture(['shutdown-hangs', '300']);
    await fixture.logged('ready');
    fixture.child.kill('SIGTERM');
    assert.equal(await fixture.exitCode(), 1);
    assert.deepEqual(
      fixture.messages(),
      [
        'ready',
        'shutting down',
        'shutdown called',
        'shutdown did not finish in time, exiting',
      ].sort(),
    );
  });

  it('exits at once on a second signal, without running shutdown again', async () => {
    // A shutdown timeout far beyond the test's own: only the second signal can end the process.
    const fixture = new Fixture(['shutdown-hangs', '600000']);
    await fixture.logged('ready');
    fixture.child.kill('SIGTERM');
    await fixture.logged('shutdown called');
    fixture.child.kill('SIGTERM');
    assert.equal(await fixture.exitCode(), 1);
    assert.deepEqual(
      fixture.messages(),
      ['ready', 'shutting down', 'shutdown called', 'second signal, exiting now'].sort(),
    );
  });
});
