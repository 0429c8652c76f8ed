/**
 * Test helpers for the real RabbitMQ broker: unique names, the management HTTP
 * API (to inspect queues and drop connections) and a plain amqplib channel to
 * look at queues from outside the code under test.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import amqplib, { type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { testServers } from './env.ts';

/** A prefix unique to this run: every queue and connection name of a test file starts with it. */
export function runPrefix(area: string): string {
  return `test-${area}-${randomBytes(4).toString('hex')}`;
}

async function management(path: string, init: RequestInit = {}): Promise<Response> {
  const base = new URL(testServers.rabbitManagementUrl);
  const auth = Buffer.from(
    `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`,
  ).toString('base64');
  base.username = '';
  base.password = '';
  return fetch(new URL(`/api${path}`, base), {
    ...init,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(5_000),
  });
}

export interface QueueInfo {
  name: string;
  durable: boolean;
  type: string;
  arguments: Record<string, unknown>;
}

export async function getQueue(name: string): Promise<QueueInfo | undefined> {
  const response = await management(`/queues/%2F/${encodeURIComponent(name)}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET queue ${name}: HTTP ${response.status}`);
  return (await response.json()) as QueueInfo;
}

export async function queueNames(prefix: string): Promise<string[]> {
  const response = await management('/queues/%2F?columns=name');
  if (!response.ok) throw new Error(`GET queues: HTTP ${response.status}`);
  const queues = (await response.json()) as { name: string }[];
  return queues.map((queue) => queue.name).filter((name) => name.startsWith(prefix));
}

/** Deletes every queue whose name starts with `prefix`. */
export async function deleteQueues(prefix: string): Promise<void> {
  for (const name of await queueNames(prefix)) {
    const response = await management(`/queues/%2F/${encodeURIComponent(name)}`, {
      method: 'DELETE',
    });
    if (!response.ok && response.status !== 404) {
      throw new Error(`DELETE queue ${name}: HTTP ${response.status}`);
    }
  }
}

interface ConnectionInfo {
  name: string;
  client_properties?: { connection_name?: string };
}

/**
 * Has the broker drop every connection that was opened with `connectionName`
 * (and only those), like a broker restart would. Returns how many it dropped.
 */
export async function dropConnections(connectionName: string, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  // The management API lists a new connection after a short delay.
  for (;;) {
    const response = await management('/connections?columns=name,client_properties');
    if (!response.ok) throw new Error(`GET connections: HTTP ${response.status}`);
    const mine = ((await response.json()) as ConnectionInfo[]).filter(
      (connection) => connection.client_properties?.connection_name === connectionName,
    );
    if (mine.length > 0) {
      for (const connection of mine) {
        const deleted = await management(`/connections/${encodeURIComponent(connection.name)}`, {
          method: 'DELETE',
          headers: { 'x-reason': 'integration test: simulated broker failure' },
        });
        if (!deleted.ok && deleted.status !== 404) {
          throw new Error(`DELETE connection: HTTP ${deleted.status}`);
        }
      }
      return mine.length;
    }
    if (Date.now() > deadline) throw new Error(`no connection named ${connectionName}`);
    await sleep(200);
  }
}

/** A plain amqplib connection for looking at queues from outside the package under test. */
export class Inspector {
  readonly #model: ChannelModel;
  readonly channel: Channel;

  private constructor(model: ChannelModel, channel: Channel) {
    this.#model = model;
    this.channel = channel;
  }

  /** On the default vhost, or on the one of `amqpUrl` (a TestVhost's). */
  static async open(amqpUrl: string = testServers.amqpUrl): Promise<Inspector> {
    const model = await amqplib.connect(amqpUrl);
    return new Inspector(model, await model.createChannel());
  }

  async openChannel(): Promise<Channel> {
    return this.#model.createChannel();
  }

  /** Waits for the next message in `queue` and takes it (no ack needed). */
  async take(queue: string, timeoutMs = 5_000): Promise<GetMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.channel.get(queue, { noAck: true });
      if (message !== false) return message;
      if (Date.now() > deadline) throw new Error(`no message in ${queue} within ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  async count(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

/** A message's headers, empty if it has none. */
export function headersOf(message: Pick<GetMessage, 'properties'>): Record<string, unknown> {
  return message.properties.headers ?? {};
}

/** A RabbitMQ virtual host of a test's own: services under test use their real queue names in it. */
export interface TestVhost {
  name: string;
  /** testServers.amqpUrl with this vhost. */
  amqpUrl: string;
  /** Messages in `queue` of this vhost, ready or not, or undefined when there is no such queue. */
  queueDepth(queue: string): Promise<number | undefined>;
  /** Deletes the vhost with everything in it. */
  drop(): Promise<void>;
}

/** Creates a vhost named `mp3test-…` (the leftovers check looks for them) that the test user may use. */
export async function createTestVhost(): Promise<TestVhost> {
  const name = `mp3test-${randomBytes(4).toString('hex')}`;
  const vhostPath = `/vhosts/${encodeURIComponent(name)}`;
  const created = await management(vhostPath, { method: 'PUT', body: '{}' });
  if (!created.ok) throw new Error(`PUT vhost ${name}: HTTP ${created.status}`);
  const user = decodeURIComponent(new URL(testServers.amqpUrl).username);
  const granted = await management(
    `/permissions/${encodeURIComponent(name)}/${encodeURIComponent(user)}`,
    { method: 'PUT', body: JSON.stringify({ configure: '.*', write: '.*', read: '.*' }) },
  );
  if (!granted.ok) throw new Error(`PUT permissions on ${name}: HTTP ${granted.status}`);
  const amqpUrl = new URL(testServers.amqpUrl);
  amqpUrl.pathname = `/${encodeURIComponent(name)}`;
  return {
    name,
    amqpUrl: amqpUrl.toString(),
    queueDepth: async (queue) => {
      const response = await management(
        `/queues/${encodeURIComponent(name)}/${encodeURIComponent(queue)}?columns=messages`,
      );
      if (response.status === 404) return undefined;
      if (!response.ok) throw new Error(`GET queue ${queue}: HTTP ${response.status}`);
      return ((await response.json()) as { messages?: number }).messages ?? 0;
    },
    drop: async () => {
      const response = await management(vhostPath, { method: 'DELETE' });
      if (!response.ok && response.status !== 404) {
        throw new Error(`DELETE vhost ${name}: HTTP ${response.status}`);
      }
    },
  };
}
