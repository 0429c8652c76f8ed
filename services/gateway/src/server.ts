import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { QUEUE_TOPOLOGY } from '@mp3converter/contracts';
import { serveApp, type HttpService } from '@mp3converter/http';
import { openJobStorage } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { Backends } from '@mp3converter/service';
import { accountsRoutes } from './accounts.routes.ts';
import { createGatewayApp, isUploadRequest } from './app.ts';
import { AuthClient } from './auth-client.ts';
import type { GatewayConfig } from './config.ts';
import { downloadRoutes } from './download.routes.ts';
import { jobsRoutes } from './jobs.routes.ts';
import { startMaintenance } from './maintenance.ts';
import { GatewayMetrics } from './metrics.ts';
import { uploadRoutes } from './upload.routes.ts';
import { webPageRoutes } from './web-page.ts';

/** `ready` resolves once MongoDB and RabbitMQ are connected and the indexes exist. */
export type GatewayServer = HttpService;

/** Then how long uploads cut off by the close have to remove what they stored. */
const UPLOAD_CLEANUP_GRACE_MS = 5_000;

/** How long stop() may take at most: give the process's shutdown timer at least this much. */
export function shutdownBudgetMs(config: GatewayConfig): number {
  return config.http.shutdownGraceMs + UPLOAD_CLEANUP_GRACE_MS + 5_000;
}

/**
 * Starts the gateway: the HTTP server answers probes and /login at once, and the routes
 * that need MongoDB and RabbitMQ once both are connected (503 until then). Dependencies
 * that are down at start are waited for, not fatal; after that both clients reconnect by
 * themselves, so an outage later never needs a restart.
 */
export async function startGateway(config: GatewayConfig, log: Logger): Promise<GatewayServer> {
  const auth = new AuthClient(config.auth);
  const metrics = new GatewayMetrics();
  const backends = new Backends({
    name: 'gateway',
    config,
    log,
    prepare: (mongo) => openJobStorage(mongo, config.mongo, ['videos', 'mp3s']),
    publishesTo: [QUEUE_TOPOLOGY.video],
    connectionName: 'gateway',
  });
  let routes: Router | undefined;
  const uploadsInFlight = new Set<Promise<unknown>>();
  let maintenance: { stop(): Promise<void> } | undefined;

  const app = createGatewayApp({
    log,
    metrics,
    trustProxy: config.http.trustProxy,
    bodyTimeoutMs: config.http.bodyTimeoutMs,
    webPage: webPageRoutes({ maxUploadBytes: config.upload.maxBytes }),
    accountRoutes: accountsRoutes(auth),
    routes: () => routes,
    readiness: {
      ...backends.readiness(),
      auth: () => auth.ping(),
    },
  });
  const service = await serveApp(
    app,
    {
      host: config.http.host,
      port: config.http.port,
      timeouts: { requestMs: config.http.uploadTimeoutMs },
    },
    log,
    {
      shutdownGraceMs: config.http.shutdownGraceMs,
      prepare: async (signal) => {
        const connected = await backends.connect(signal);
        if (connected === undefined) return;
        const { amqp } = connected;
        const { videos, mp3s, jobs } = connected.prepared;
        const links = config.links;
        const router = Router();
        router.use(
          uploadRoutes({
            auth,
            amqp,
            jobs,
            videos,
            links,
            maxBytes: config.upload.maxBytes,
            idleTimeoutMs: config.upload.idleTimeoutMs,
            maxConcurrent: config.upload.maxConcurrent,
            metrics,
            inFlight: uploadsInFlight,
            log,
          }),
        );
        router.use(jobsRoutes({ auth, jobs, videos, mp3s, links, log }));
        router.use(downloadRoutes({ auth, mp3s, linkSecret: links.secret, log }));
        routes = router;
        maintenance = startMaintenance({
          videos,
          mp3s,
          jobs,
          intervalMs: config.maintenanceIntervalMs,
          uploadTimeoutMs: config.http.uploadTimeoutMs,
          log,
        });
        log.info('ready');
      },
      release: async () => {
        await maintenance?.stop();
        // Uploads cut off by the close still remove their partial files: let them, briefly.
        await Promise.race([
          Promise.allSettled(uploadsInFlight),
          sleep(UPLOAD_CLEANUP_GRACE_MS, undefined, { ref: false }),
        ]);
        await Promise.allSettled([backends.close(), auth.close()]);
      },
    },
  );
  // Expect: 100-continue (curl sends it for large uploads): Node would answer "100 Continue"
  // at once. An upload answers it itself once the token and size are checked, so a refused
  // upload is refused before the client sends its gigabytes; every other request gets it now.
  service.server.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!isUploadRequest(req)) res.writeContinue();
    service.server.server.emit('request', req, res);
  });
  return service;
}
