import { Router, type Response } from 'express';
import {
  livenessAnswer,
  readinessAnswer,
  type ProbeAnswer,
  type ReadinessCheck,
} from '@mp3converter/lifecycle';

export type { ReadinessCheck };

function send(res: Response, answer: ProbeAnswer): void {
  res.status(answer.status).set(answer.headers).end(answer.body);
}

/**
 * Kubernetes probes for an Express service, answered exactly as the workers'
 * probe server answers them: /healthz says the process is alive, /readyz runs
 * every check (each bounded by `timeoutMs`) and answers 503 naming those that failed.
 */
export function healthRoutes(
  readiness: Record<string, ReadinessCheck>,
  timeoutMs?: number,
): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    send(res, livenessAnswer());
  });
  router.get('/readyz', async (_req, res) => {
    send(res, await readinessAnswer(readiness, { timeoutMs }));
  });
  return router;
}
