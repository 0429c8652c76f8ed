import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { connectAmqp, type AmqpConnection } from '@mp3converter/amqp';
import { QUEUE_TOPOLOGY } from '@mp3converter/contracts';
import { DependencyUnavailableError } from '@mp3converter/errors';
import { openBucket } from '@mp3converter/gridfs';
import { listen } from '@mp3converter/http';
import { retryUntilAvailable } from '@mp3converter/lifecycle';
import { JobStore, ensureJobFileIndex } from '@mp3converter/jobs';
import type { Logger } from '@mp3converter/logging';
import { connectMongo, type MongoConnection } from '@mp3converter/mongo';
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

export interface GatewayServer {
  port: number;
  /** Resolves once MongoDB and RabbitMQ are connected and the indexes exist. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

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
  const stopping = new AbortController();
  let mongo: MongoConnection | undefined;
  let amqp: AmqpConnection | undefined;
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
      mongodb: async () => {
        if (mongo === undefined) throw new DependencyUnavailableError('mongodb');
        await mongo.ping();
      },
      rabbitmq: () => {
        if (amqp?.isConnected() !== true) throw new DependencyUnavailableError('rabbitmq');
        return Promise.resolve();
      },
      auth: () => auth.ping(),
    },
  });
  const server = await listen(
    app,
    {
      host: config.http.host,
      port: config.http.port,
      timeouts: { requestMs: config.http.uploadTimeoutMs },
    },
    log,
  );
  // Expect: 100-continue (curl sends it for large uploads): Node would answer "100 Continue"
  // at once. An upload answers it itself once the token and size are checked, so a refused
  // upload is refused before the client sends its gigabytes; every other request gets it now.
  server.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!isUploadRequest(req)) res.writeContinue();
    server.server.emit('request', req, res);
  });

  const prepare = async (): Promise<void> => {
    mongo = await retryUntilAvailable({ signal: stopping.signal, log, dependency: 'mongodb' }, () =>
      connectMongo({ url: config.mongo.url, logger: log, appName: 'gateway' }),
    );
    if (mongo === undefined) return;
    const connected = mongo;
    const videos = openBucket(connected.db(config.mongo.videosDatabase), 'fs');
    const mp3s = openBucket(connected.db(config.mongo.mp3sDatabase), 'fs');
    const jobs = new JobStore(connected.db(config.mongo.jobsDatabase));
    await retryUntilAvailable({ signal: stopping.signal, log, dependency: 'mongodb' }, async () => {
      await jobs.ensureIndexes();
      await ensureJobFileIndex(videos.files);
      await ensureJobFileIndex(mp3s.files);
    });
    amqp = await retryUntilAvailable({ signal: stopping.signal, log, dependency: 'rabbitmq' }, () =>
      connectAmqp({
        url: config.amqp.url,
        logger: log,
        connectionName: 'gateway',
        publishTimeoutMs: config.amqp.publishTimeoutMs,
        topology: [QUEUE_TOPOLOGY.video],
      }),
    );
    if (amqp === undefined || stopping.signal.aborted) return;
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
  };

  return {
    port: server.port,
    ready: prepare(),
    stop: async () => {
      stopping.abort();
      await server.close(config.http.shutdownGraceMs);
      await maintenance?.stop();
      // Uploads cut off by the close still remove their partial files: let them, briefly.
      await Promise.race([
        Promise.allSettled(uploadsInFlight),
        sleep(UPLOAD_CLEANUP_GRACE_MS, undefined, { ref: false }),
      ]);
      await Promise.allSettled([amqp?.close(), mongo?.close(), auth.close()]);
    },
  };
}
