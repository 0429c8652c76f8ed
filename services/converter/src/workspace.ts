import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@mp3converter/logging';

const PROCESS_DIR = /^work-(\d+)$/;

/** True when a process with this pid runs on this host (signal 0 checks without sending). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The converter's temp files: `<TEMP_DIR>/work-<pid>/<job>-<random>/`. Each process works in a
 * directory named after its pid, so several converters on one machine can share TEMP_DIR (in
 * Kubernetes every pod has its own emptyDir). At start, everything in TEMP_DIR is removed but
 * the directories of other converters that are still running: what a killed process left
 * behind goes with the next start.
 */
export class Workspace {
  readonly root: string;
  readonly dir: string;

  private constructor(root: string) {
    this.root = root;
    this.dir = join(root, `work-${process.pid}`);
  }

  static async open(root: string, log: Logger): Promise<Workspace> {
    const workspace = new Workspace(root);
    await mkdir(root, { recursive: true });
    let removed = 0;
    for (const entry of await readdir(root)) {
      const pid = PROCESS_DIR.exec(entry)?.[1];
      if (pid !== undefined && Number(pid) !== process.pid && isRunning(Number(pid))) continue;
      await rm(join(root, entry), { recursive: true, force: true });
      removed += 1;
    }
    await mkdir(workspace.dir, { recursive: true });
    log.info({ dir: workspace.dir, removed }, 'temp directory ready');
    return workspace;
  }

  /** A new directory for one job; remove it with `release` in a finally. */
  async create(jobId: string): Promise<string> {
    return mkdtemp(join(this.dir, `${jobId}-`));
  }

  async release(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes this process's directory (at shutdown). */
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
