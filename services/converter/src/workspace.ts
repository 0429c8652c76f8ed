import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@mp3converter/logging';

const HOST = hostname();
const PREFIX = `work-${HOST}-`;

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

/** One job's temp directory, removed on disposal. */
export interface JobDirectory extends AsyncDisposable {
  readonly path: string;
}

/**
 * The converter's temp files: `<TEMP_DIR>/work-<host>-<pid>/<job>-<random>/`. Each process
 * works in a directory named after its host and pid, so several converters can share TEMP_DIR
 * (in Kubernetes every pod has its own emptyDir). At start, the directories of this host's
 * converters that no longer run are removed: what a killed process left behind goes with the
 * next start. Nothing else in TEMP_DIR is touched, so a TEMP_DIR shared with other programs
 * (or other hosts, whose pids mean nothing here) loses nothing of theirs.
 */
export class Workspace {
  readonly root: string;
  readonly dir: string;

  private constructor(root: string) {
    this.root = root;
    this.dir = join(root, `${PREFIX}${process.pid}`);
  }

  static async open(root: string, log: Logger): Promise<Workspace> {
    const workspace = new Workspace(root);
    await mkdir(root, { recursive: true });
    let removed = 0;
    for (const entry of await readdir(root)) {
      const pid = entry.startsWith(PREFIX) ? entry.slice(PREFIX.length) : '';
      if (!/^\d+$/.test(pid)) continue;
      if (Number(pid) !== process.pid && isRunning(Number(pid))) continue;
      await rm(join(root, entry), { recursive: true, force: true });
      removed += 1;
    }
    await mkdir(workspace.dir, { recursive: true });
    log.info({ dir: workspace.dir, removed }, 'temp directory ready');
    return workspace;
  }

  /** A new directory for one job, removed when disposed: hold it with `await using`. */
  async jobDirectory(jobId: string): Promise<JobDirectory> {
    const path = await mkdtemp(join(this.dir, `${jobId}-`));
    return {
      path,
      [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }),
    };
  }

  /** Removes this process's directory (at shutdown). */
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
