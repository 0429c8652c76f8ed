import { sweepOrphanChunks, type FileBucket } from '@mp3converter/gridfs';
import type { JobStore } from '@mp3converter/jobs';
import { startPeriodic, type PeriodicTask } from '@mp3converter/lifecycle';
import type { Logger } from '@mp3converter/logging';
import { deleteJobFiles } from './job-files.ts';

export interface MaintenanceOptions {
  videos: FileBucket;
  mp3s: FileBucket;
  jobs: JobStore;
  /** How often the work below runs. */
  intervalMs: number;
  /** The longest an upload may take: chunks of an upload begun earlier are abandoned. */
  uploadTimeoutMs: number;
  log: Logger;
}

/** An upload's chunks count as abandoned this long after the longest an upload may take. */
const ORPHAN_MARGIN_MS = 10 * 60 * 1000;
/** A delete still unfinished after this long was interrupted. */
const INTERRUPTED_DELETE_MS = 5 * 60 * 1000;

/**
 * Tidies up after what could not tidy up itself, every `intervalMs`:
 * - chunks of uploads whose cleanup failed because MongoDB went away midway (no files
 *   document points to them);
 * - jobs whose DELETE was interrupted (marked deleted, files possibly still there).
 * Every gateway replica runs it; doing the same work twice is harmless.
 */
export function startMaintenance(options: MaintenanceOptions): PeriodicTask {
  const log = options.log.child({ module: 'maintenance' });
  return startPeriodic(log, options.intervalMs, async () => {
    const now = Date.now();
    const abandonedBefore = new Date(now - options.uploadTimeoutMs - ORPHAN_MARGIN_MS);
    const swept = await sweepOrphanChunks(options.videos, abandonedBefore);
    if (swept > 0) log.info({ files: swept }, 'removed the chunks of abandoned uploads');
    const interrupted = await options.jobs.findDeletedBefore(new Date(now - INTERRUPTED_DELETE_MS));
    for (const job of interrupted) {
      await deleteJobFiles(job, options);
      await options.jobs.remove(job._id);
      log.info({ jobId: job._id }, 'finished an interrupted delete');
    }
  });
}
