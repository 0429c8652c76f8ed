// Child processes of a benchmark, tracked so that they can be killed when it ends early.

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Runs a command (argument array, no shell; `env`, else this process's environment); resolves
 * with the last 64 KiB of its stdout, rejects with the tail of its stderr. `spawned` gets the
 * process as soon as it is started. The process is in `children` while it runs.
 */
export function run(
  command: string,
  args: string[],
  children: Set<ChildProcess>,
  { env, spawned }: { env?: NodeJS.ProcessEnv; spawned?: (child: ChildProcess) => void } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    children.add(child);
    spawned?.(child);
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      stdout = (stdout + data).slice(-64 * 1024);
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (data: string) => {
      stderr = (stderr + data).slice(-4000);
    });
    child.once('error', (error) => {
      children.delete(child);
      reject(error);
    });
    child.once('close', (code, signal) => {
      children.delete(child);
      if (code === 0) resolve(stdout);
      else
        reject(new Error(`${command} ${args.join(' ')} ended with ${code ?? signal}:\n${stderr}`));
    });
  });
}
