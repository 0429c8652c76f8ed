import { Router } from 'express';
import { DependencyUnavailableError } from '@mp3converter/errors';

export type ReadinessCheck = () => Promise<void>;

/**
 * Kubernetes probes. /healthz says the process is alive and must not depend on
 * anything else (a database outage must not restart every pod); /readyz says
 * the service can do its work right now.
 */
export function healthRoutes(readiness: Record<string, ReadinessCheck>, timeoutMs = 2000): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => {
              timer = setTimeout(() => {
                reject(new Error('timeout'));
              }, timeoutMs);
            }),
          ]);
          return [name, 'ok'] as const;
        } catch {
          return [name, 'unavailable'] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const down = results.filter(([, state]) => state !== 'ok').map(([name]) => name);
    if (down.length > 0)
      throw new DependencyUnavailableError(down.join(', '), {
        details: Object.fromEntries(results),
      });
    res.json({ status: 'ready', checks: Object.fromEntries(results) });
  });
  return router;
}
