/**
 * AMQP test helpers specific to this package; the broker helpers shared with
 * other packages live in @mp3converter/testkit.
 */
import { createLogger, type Logger } from '@mp3converter/logging';
import { connectAmqp, type AmqpConnection, type ConnectOptions } from '@mp3converter/amqp';
import { testLogLevel, testServers, waitFor } from '@mp3converter/testkit';

export const BROKER_URL = testServers.amqpUrl;

export function testLogger(): Logger {
  return createLogger({ service: 'amqp-test', level: testLogLevel });
}

let counter = 0;
export function uniqueQueue(prefix: string): string {
  counter += 1;
  return `${prefix}-q${counter}`;
}

/** Connects with settings that keep tests fast: quick reconnects and short confirm timeouts. */
export function connectForTest(
  name: string,
  options: Partial<ConnectOptions> = {},
): Promise<AmqpConnection> {
  return connectAmqp({
    url: BROKER_URL,
    logger: testLogger(),
    connectionName: name,
    heartbeatSeconds: 5,
    reconnectDelaySeconds: 0.2,
    connectTimeoutMs: 5_000,
    publishTimeoutMs: 3_000,
    ...options,
  });
}

/** Polls `check` until it returns true (testkit's waitFor, with a shorter interval). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  await waitFor(check, { what, timeoutMs, intervalMs: 20 });
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
