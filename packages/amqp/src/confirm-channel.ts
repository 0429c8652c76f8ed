import type { ConfirmChannel, Message, Options } from 'amqplib';
import { PublishFailedError, PublishTimeoutError, UnroutableMessageError } from './errors.ts';

/**
 * State this package keeps about raw amqplib channels. amqp-connection-manager
 * swaps the channel under its wrapper on every reconnect; a delivery must be
 * acked on the channel it arrived on, so consumers hold on to the raw channel
 * and check here whether it is still open.
 */
const closedChannels = new WeakSet<ConfirmChannel>();
const returnedIds = new WeakMap<ConfirmChannel, Set<string>>();

export interface ChannelWatch {
  onError(error: Error): void;
}

/** Starts tracking a new raw channel. Safe to call more than once per channel. */
export function watchChannel(channel: ConfirmChannel, watch: ChannelWatch): void {
  if (returnedIds.has(channel)) return;
  returnedIds.set(channel, new Set());
  channel.on('close', () => closedChannels.add(channel));
  // Without a listener, a channel-level error from the broker would be thrown.
  channel.on('error', (error: Error) => {
    watch.onError(error);
  });
  // The broker sends basic.return before the confirm of an unroutable mandatory message.
  channel.on('return', (message: Message) => {
    const id: unknown = message.properties.messageId;
    if (typeof id === 'string') returnedIds.get(channel)?.add(id);
  });
}

export function isChannelOpen(channel: ConfirmChannel): boolean {
  return !closedChannels.has(channel);
}

/** True once if the broker returned the message with this id as unroutable. */
export function takeReturned(channel: ConfirmChannel, messageId: string): boolean {
  return returnedIds.get(channel)?.delete(messageId) ?? false;
}

/**
 * Publishes on a raw confirm channel and resolves once the broker has confirmed
 * the message into a queue. Rejects if the broker nacks it, cannot route it, the
 * channel closes first, or no confirm arrives within `timeoutMs`.
 */
export function publishConfirmed(
  channel: ConfirmChannel,
  queue: string,
  content: Buffer,
  options: Options.Publish & { messageId: string },
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      settle(new PublishTimeoutError(queue, timeoutMs));
    }, timeoutMs);
    try {
      channel.sendToQueue(queue, content, { ...options, mandatory: true }, (error: unknown) => {
        if (error) {
          settle(new PublishFailedError(queue, errorText(error), { cause: error }));
        } else if (takeReturned(channel, options.messageId)) {
          settle(new UnroutableMessageError(queue));
        } else {
          settle(undefined);
        }
      });
    } catch (error) {
      // amqplib throws synchronously when the channel is already closed.
      settle(new PublishFailedError(queue, errorText(error), { cause: error }));
    }
  });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
