import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, problemDocument } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { startHttpServer } from './http-server.ts';
import {
  livenessAnswer,
  readinessAnswer,
  type ProbeAnswer,
  type ReadinessCheck,
} from './readiness.ts';

export interface ProbeServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  readiness: Record<string, ReadinessCheck>;
  /** Bounds each readiness check. */
  timeoutMs?: number;
  /** Served as GET /metrics, e.g. a prom-client Registry. */
  metrics?: MetricsSource;
}

/** What GET /metrics renders: a prom-client Registry has both. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

const NOT_FOUND: ProbeAnswer = {
  status: 404,
  headers: { 'content-type': PROBLEM_CONTENT_TYPE },
  body: JSON.stringify(
    problemDocument(
      {
        status: 404,
        code: 'ROUTE_NOT_FOUND',
        detail: 'this port answers GET /healthz, GET /readyz and GET /metrics only',
      },
      undefined,
    ),
  ),
};

function send(res: ServerResponse, answer: ProbeAnswer): void {
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

/**
 * /healthz, /readyz and /metrics for a process that serves no HTTP otherwise (the
 * workers), on plain node:http so that workers need no web framework.
 */
export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const log = options.log.child({ module: 'probes' });
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/healthz') {
      send(res, livenessAnswer());
    } else if (get && path === '/readyz') {
      send(res, await readinessAnswer(options.readiness, { log, timeoutMs: options.timeoutMs }));
    } else if (get && path === '/metrics' && options.metrics !== undefined) {
      const body = await options.metrics.metrics();
      res.writeHead(200, { 'content-type': options.metrics.contentType }).end(body);
    } else {
      send(res, NOT_FOUND);
    }
  };
  const running = await startHttpServer(
    (req, res) => {
      handle(req, res).catch((error: unknown) => {
        log.error({ err: error }, 'probe failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    },
    // Probes send no body and expect a fast answer.
    { host: options.host, port: options.port, timeouts: { headersMs: 5_000, requestMs: 10_000 } },
    log,
  );
  return {
    port: running.port,
    // Probes are short: nothing in flight is worth waiting for.
    close: () => running.close(0),
  };
}
