import type { Logger } from '@mp3converter/logging';
import { MongoClient, ServerType, type Db, type ServerDescriptionChangedEvent } from 'mongodb';

import { mongoError } from './errors.ts';

export interface MongoConnectOptions {
  /** mongodb:// URL; its path names the default database. Never logged (it may hold a password). */
  url: string;
  /** Without one (tools, tests of other packages) nothing is logged. */
  logger?: Logger;
  /** Shown by the server in its logs and in currentOp; use the service's name. */
  appName: string;
  /**
   * How long connecting, and every operation, waits for a usable server before failing with
   * DependencyUnavailableError. Default 5 s.
   */
  serverSelectionTimeoutMs?: number;
  /**
   * How long a command may wait for its reply, and an operation for a free pooled connection:
   * what bounds a server that stalls rather than goes away. Default 10 s; keep it above the
   * slowest single command the service sends.
   */
  socketTimeoutMs?: number;
}

/** The one MongoDB client of a process. */
export interface MongoConnection {
  readonly client: MongoClient;
  /** The database `name`, or without it the one in the URL's path (the driver's `test` if none). */
  db(name?: string): Db;
  /**
   * Resolves once the server answers a ping, for /readyz. Rejects with
   * DependencyUnavailableError if it does not within `timeoutMs` (default: the server
   * selection timeout).
   */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects and resolves once the server answered a ping. If it is unreachable the promise
 * rejects with DependencyUnavailableError('mongodb') after `serverSelectionTimeoutMs`. The
 * driver reconnects by itself after an outage. Operations while the server is gone fail
 * within `serverSelectionTimeoutMs`; while it stalls, within about `socketTimeoutMs` (map
 * their errors with `mongoError`).
 */
export async function connectMongo(options: MongoConnectOptions): Promise<MongoConnection> {
  const serverSelectionTimeoutMs = options.serverSelectionTimeoutMs ?? 5_000;
  const socketTimeoutMs = options.socketTimeoutMs ?? 10_000;
  const client = new MongoClient(options.url, {
    appName: options.appName,
    serverSelectionTimeoutMS: serverSelectionTimeoutMs,
    // The driver's defaults leave the wait for a reply and for a pooled connection unbounded.
    connectTimeoutMS: 10_000,
    socketTimeoutMS: socketTimeoutMs,
    waitQueueTimeoutMS: socketTimeoutMs,
  });
  const log = options.logger?.child({ module: 'mongo', hosts: client.options.hosts.map(String) });
  let state: 'connecting' | 'open' | 'closed' = 'connecting';
  client.on('serverDescriptionChanged', (event: ServerDescriptionChangedEvent) => {
    if (state !== 'open') return;
    const wasUp = event.previousDescription.type !== ServerType.Unknown;
    const isUp = event.newDescription.type !== ServerType.Unknown;
    if (wasUp && !isUp) {
      log?.warn({ address: event.address, err: event.newDescription.error }, 'mongodb unreachable');
    } else if (!wasUp && isUp) {
      log?.info({ address: event.address }, 'mongodb reachable again');
    }
  });

  const ping = async (timeoutMs = serverSelectionTimeoutMs): Promise<void> => {
    try {
      await client.db('admin').command({ ping: 1 }, { timeoutMS: timeoutMs });
    } catch (error) {
      throw mongoError(error);
    }
  };

  try {
    await client.connect();
    await ping();
  } catch (error) {
    state = 'closed';
    await client.close();
    throw mongoError(error);
  }
  state = 'open';
  log?.info({ appName: options.appName }, 'mongodb connected');

  return {
    client,
    db: (name) => client.db(name),
    ping,
    close: async () => {
      if (state === 'closed') return;
      state = 'closed';
      await client.close();
      log?.info('mongodb connection closed');
    },
  };
}
