import type { RequestHandler } from 'express';
import { ServiceMetrics } from '@mp3converter/service';

const UPLOAD_OUTCOMES = ['accepted', 'rejected', 'aborted', 'failed'] as const;
export type UploadOutcome = (typeof UPLOAD_OUTCOMES)[number];
/** A request's labels: its values come as requests do. */
const REQUEST_LABELS = { method: [], route: [], status: [] };

/** The gateway's Prometheus metrics, served on GET /metrics. */
export class GatewayMetrics extends ServiceMetrics {
  readonly #requests = this.counter(
    'http_requests_total',
    'HTTP requests answered, by method, route and status',
    REQUEST_LABELS,
  );
  readonly #duration = this.histogram(
    'http_request_duration_seconds',
    'Time from the request to the end of the response, by method, route and status',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    REQUEST_LABELS,
  );
  readonly #uploadedBytes = this.counter(
    'upload_bytes_total',
    'Bytes of video received by POST /upload',
  );
  readonly #uploads = this.counter(
    'uploads_total',
    'Uploads by outcome: accepted (202), rejected (4xx), aborted (client gone), failed (5xx)',
    { outcome: UPLOAD_OUTCOMES },
  );

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
