import {
  DependencyUnavailableError,
  PROBLEM_CONTENT_TYPE,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  problemDocument,
} from '@mp3converter/errors';
import { currentCorrelationId, type Logger } from '@mp3converter/logging';

/** Resolves when a dependency can be used right now; rejects otherwise. */
export type ReadinessCheck = () => Promise<void>;

export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, 'ok' | 'unavailable'>;
  /** Why each failed check failed. */
  failures: Record<string, unknown>;
}

/** Runs every check at once, each bounded by `timeoutMs`, so a hanging dependency cannot hang the probe. */
export async function checkReadiness(
  readiness: Record<string, ReadinessCheck>,
  timeoutMs = DEFAULT_CHECK_TIMEOUT_MS,
): Promise<ReadinessReport> {
  const report: ReadinessReport = { ready: true, checks: {}, failures: {} };
  await Promise.all(
    Object.entries(readiness).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => {
              reject(new Error(`${name} did not answer within ${timeoutMs} ms`));
            }, timeoutMs);
          }),
        ]);
        report.checks[name] = 'ok';
      } catch (error) {
        report.ready = false;
        report.checks[name] = 'unavailable';
        report.failures[name] = error;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return report;
}

/** An HTTP answer to a probe, written the same way by Express routes and the bare probe server. */
export interface ProbeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** /healthz: the process is alive. It must not depend on anything else, or an outage restarts every pod. */
export function livenessAnswer(): ProbeAnswer {
  return {
    status: 200,
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ status: 'ok' }),
  };
}

/**
 * /readyz: the service can do its work right now. Failing checks answer 503
 * as a problem document naming them, the same one the HTTP error model gives
 * for DependencyUnavailableError.
 */
export async function readinessAnswer(
  readiness: Record<string, ReadinessCheck>,
  { timeoutMs = DEFAULT_CHECK_TIMEOUT_MS, log }: { timeoutMs?: number; log?: Logger } = {},
): Promise<ProbeAnswer> {
  const report = await checkReadiness(readiness, timeoutMs);
  if (report.ready) {
    return {
      status: 200,
      headers: { 'content-type': JSON_TYPE },
      body: JSON.stringify({ status: 'ready', checks: report.checks }),
    };
  }
  for (const [check, error] of Object.entries(report.failures)) {
    log?.warn({ check, err: error }, 'readiness check failed');
  }
  const error = new DependencyUnavailableError(Object.keys(report.failures).join(', '));
  const problem = problemDocument(
    {
      status: error.status,
      code: error.code,
      detail: error.message,
      checks: report.checks,
    },
    currentCorrelationId(),
  );
  return {
    status: error.status,
    headers: {
      'content-type': PROBLEM_CONTENT_TYPE,
      'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS),
    },
    body: JSON.stringify(problem),
  };
}
