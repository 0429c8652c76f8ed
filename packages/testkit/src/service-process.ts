import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { servicePath } from './env.ts';
import { serviceNodeOptions } from './node-options.ts';

/** A log line of a service (pino JSON), parsed; a line that is not JSON becomes `{ msg }`. */
export type LogLine = Record<string, unknown> & { msg?: unknown };

/** One of the project's services run as its own process, as a pod runs it. */
export interface ServiceProcess {
  readonly service: string;
  readonly child: ChildProcess;
  /** Its log lines, parsed, as they arrive. */
  readonly logs: LogLine[];
  /** The port it answers /healthz, /readyz (and, for the HTTP services, its API) on. */
  readonly port: number;
  readonly url: string;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a log line with this `msg` (or matching the predicate), logged since the start. */
  waitForLog(match: string | ((line: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  /** Its stderr so far (Node's own errors: a crash before the logger existed). */
  stderr(): string;
  /** Sends `signal` and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const servicesRoot = fileURLToPath(new URL('../../../services/', import.meta.url));

export interface SpawnOptions {
  readyTimeoutMs?: number;
  /** Where the services are: another copy of `services/`, such as an image's. */
  root?: string;
  /** Node's arguments, in the service's folder: `src/main.ts` by default. */
  args?: readonly string[];
}

/**
 * Starts `services/<service>/src/main.ts` with `env` (and nothing else from this process's
 * environment but PATH), with the NODE_OPTIONS it is deployed with, and resolves once it has
 * logged `ready`. Give it PORT=0 for a free port; `port` is the one it logged.
 */
export async function spawnService(
  service: string,
  env: Record<string, string>,
  { readyTimeoutMs = 30_000, root = servicesRoot, args = ['src/main.ts'] }: SpawnOptions = {},
): Promise<ServiceProcess> {
  const directory = join(root, service);
  const child = spawn(process.execPath, args, {
    cwd: directory,
    env: { PATH: servicePath, NODE_OPTIONS: serviceNodeOptions(service), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ msg: line });
    }
    wake();
  });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      wake();
    });
  });

  const waitForLog: ServiceProcess['waitForLog'] = (match, timeoutMs = 20_000) =>
    new Promise((resolve, reject) => {
      const matches = typeof match === 'string' ? (line: LogLine) => line.msg === match : match;
      const what = typeof match === 'string' ? `"${match}"` : 'the awaited line';
      const check = (): void => {
        const found = logs.find(matches);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`${service} exited before logging ${what}: ${stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${service} did not log ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  try {
    const listening = await waitForLog('listening', readyTimeoutMs);
    await waitForLog('ready', readyTimeoutMs);
    const port = Number(listening.port);
    return {
      service,
      child,
      logs,
      port,
      url: `http://127.0.0.1:${port}`,
      exited,
      waitForLog,
      stderr: () => stderr,
      kill: async (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
}
