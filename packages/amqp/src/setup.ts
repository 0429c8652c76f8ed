import type { ConfirmChannel } from 'amqplib';

export type ChannelSetup = (channel: ConfirmChannel) => Promise<void>;

/**
 * True for an error the broker answered with a reply code (404 NOT_FOUND, 406
 * PRECONDITION_FAILED...): running the setup again will fail again. A setup cut
 * short by a lost connection fails without one.
 */
export function isBrokerRefusal(error: unknown): boolean {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 300;
}

/**
 * Wraps a channel setup so a caller can wait for its first outcome: the first
 * run that succeeds, or the first broker refusal. A run cut short by a lost
 * connection decides nothing; amqp-connection-manager runs the setup again
 * after reconnecting.
 */
export function observeFirstRun(setup: ChannelSetup): {
  setup: ChannelSetup;
  firstOutcome: Promise<void>;
} {
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const firstOutcome = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Awaited by the caller; this only keeps an early refusal from counting as unhandled.
  firstOutcome.catch(() => undefined);
  return {
    firstOutcome,
    setup: async (channel) => {
      try {
        await setup(channel);
        settle.resolve();
      } catch (error) {
        if (isBrokerRefusal(error)) settle.reject(error);
        throw error;
      }
    },
  };
}

export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what} within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
