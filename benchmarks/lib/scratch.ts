import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

/** What a benchmark starts: its child processes, its temp directory and its test system. */
export interface Scratch {
  readonly children: Set<ChildProcess>;
  dir?: string;
  system?: { stop(): Promise<void> };
}

/**
 * Runs `body` with an empty Scratch, then, once, however `body` ends (and on Ctrl-C or a
 * SIGTERM meanwhile, before exiting): kills the children, stops the system (which drops its
 * vhost and databases, with every file stored in them) and removes the directory.
 */
export async function withScratch<T>(body: (scratch: Scratch) => Promise<T>): Promise<T> {
  const scratch: Scratch = { children: new Set() };
  const cleanup = async (): Promise<void> => {
    for (const child of scratch.children) child.kill('SIGKILL');
    try {
      await scratch.system?.stop();
    } finally {
      if (scratch.dir !== undefined) await rm(scratch.dir, { recursive: true, force: true });
    }
  };
  let cleaning: Promise<void> | undefined;
  const once = (): Promise<void> => (cleaning ??= cleanup());
  const onSignal = (signal: NodeJS.Signals): void => {
    void once().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(scratch);
  } finally {
    await once();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
