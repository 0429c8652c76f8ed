import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type UploadOutcome = 'accepted' | 'rejected' | 'aborted' | 'failed';

/**
 * The gateway's Prometheus metrics, in a registry of its own (not prom-client's global
 * one), so that several gateways in one process (tests) keep separate counts.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the request to the end of the response, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly #uploadedBytes = new Counter({
    name: 'upload_bytes_total',
    help: 'Bytes of video received by POST /upload',
    registers: [this.registry],
  });
  readonly #uploads = new Counter({
    name: 'uploads_total',
    help: 'Uploads by outcome: accepted (202), rejected (4xx), aborted (client gone), failed (5xx)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const outcome of ['accepted', 'rejected', 'aborted', 'failed'] as const) {
      this.#uploads.inc({ outcome }, 0);
    }
  }

  /** Counts and times every request, labelled with its route pattern (never the raw path). */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const stop = this.#duration.startTimer();
      res.once('close', () => {
        // Set by the router once a route matched; unmatched paths share one label.
        const route = (req.route as { path?: unknown } | undefined)?.path;
        const labels = {
          method: req.method,
          route: typeof route === 'string' ? route : 'unmatched',
          status: String(res.headersSent ? res.statusCode : 0),
        };
        this.#requests.inc(labels);
        stop(labels);
      });
      next();
    };
  }

  uploadedBytes(count: number): void {
    this.#uploadedBytes.inc(count);
  }

  upload(outcome: UploadOutcome): void {
    this.#uploads.inc({ outcome });
  }

  /** GET /metrics, in the Prometheus text format. */
  handler(): RequestHandler {
    return async (_req, res) => {
      res.setHeader('Content-Type', this.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await this.registry.metrics());
    };
  }
}
