import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import {
  PublishFailedError,
  PublishTimeoutError,
  TopologyError,
  UnroutableMessageError,
} from './errors.ts';

export interface ChannelHooks {
  /** Runs on every new raw channel (first, after reconnects, after a reopen) before use. */
  setup(channel: ConfirmChannel): Promise<void>;
  /** A raw channel closed (broker, connection loss or our close): work received on it is void. */
  closed?(channel: ConfirmChannel): void;
}

export interface ChannelSettings {
  name: string;
  publishTimeoutMs: number;
  /** Wait before reopening a channel the broker closed, so a persistent refusal cannot spin. */
  reopenDelayMs: number;
  log: Logger;
}

/** Marks each send, so a basic.return is matched to its own message and no other. */
const PUBLISH_ID_HEADER = 'x-publish-id';

/**
 * A confirm channel kept open by amqp-connection-manager, plus what the library lacks:
 * - it reopens a channel only after the whole connection drops; a channel the broker
 *   closed alone (consumer_timeout, PRECONDITION_FAILED, NOT_FOUND) would stay dead.
 *   Here that wrapper is replaced, alone: other channels and their work carry on;
 * - it does not say which raw channel is open, and a delivery must be acked on the
 *   channel it came on (a delivery tag means nothing on another channel);
 * - it ignores basic.return, so an unroutable `mandatory` message would count as sent.
 */
export class ManagedChannel {
  readonly #manager: AmqpConnectionManager;
  readonly #hooks: ChannelHooks;
  readonly #settings: ChannelSettings;
  readonly #closedChannels = new WeakSet<ConfirmChannel>();
  readonly #returned = new Set<string>();
  #wrapper: ChannelWrapper;
  #firstError: unknown;
  /** A reopen waiting out `reopenDelayMs`; `done` resolves once it ran or close() cancelled it. */
  #reopening: { timer: NodeJS.Timeout; done: Promise<void>; finish: () => void } | undefined;
  #closed = false;

  constructor(manager: AmqpConnectionManager, hooks: ChannelHooks, settings: ChannelSettings) {
    this.#manager = manager;
    this.#hooks = hooks;
    this.#settings = settings;
    this.#wrapper = this.#open();
  }

  get wrapper(): ChannelWrapper {
    return this.#wrapper;
  }

  isOpen(channel: ConfirmChannel): boolean {
    return !this.#closedChannels.has(channel);
  }

  /**
   * Resolves once the first setup ran. Rejects with TopologyError if the broker refused it
   * (e.g. a queue declared with other arguments), with DependencyUnavailableError if that
   * did not happen within `timeoutMs`.
   */
  async ready(timeoutMs: number, queue?: string): Promise<void> {
    const wrapper = this.#wrapper;
    const fail = (error: unknown): Error => {
      if (!isBrokerRefusal(error)) {
        return new DependencyUnavailableError('rabbitmq', { cause: error });
      }
      const text = error instanceof Error ? error.message : String(error);
      return new TopologyError(`setting up ${this.#settings.name} failed: ${text}`, queue, {
        cause: error,
      });
    };
    let timer: NodeJS.Timeout | undefined;
    let onError: ((error: unknown) => void) | undefined;
    try {
      await Promise.race([
        wrapper.waitForConnect(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(fail(this.#firstError));
          }, timeoutMs);
          onError = (error: unknown) => {
            // A setup cut short by a lost connection is retried by the library after reconnecting.
            if (isBrokerRefusal(error)) reject(fail(error));
          };
          wrapper.on('error', onError);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onError !== undefined) wrapper.off('error', onError);
    }
  }

  /**
   * The one way this package publishes: persistent, `mandatory`, and resolved only once the
   * broker confirmed the message into a queue. While disconnected, amqp-connection-manager
   * holds messages and sends them after reconnecting; its `publishTimeout` bounds that wait,
   * so a caller learns of an unreachable broker instead of hanging. A message caught in a
   * channel the broker closed goes again on the one that replaces it.
   */
  async send(
    queue: string,
    content: Buffer,
    properties: Options.Publish,
    timeoutMs = this.#settings.publishTimeoutMs,
  ): Promise<void> {
    if (this.#closed) throw new PublishFailedError(queue, 'the channel is closed');
    const publishId = randomUUID();
    const given = (properties.headers ?? {}) as Record<string, unknown>; // amqplib types it any
    const headers = { ...given, [PUBLISH_ID_HEADER]: publishId };
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const wrapper = this.#wrapper;
        try {
          const timeout = Math.max(1, deadline - Date.now());
          const options = { ...properties, headers, persistent: true, mandatory: true, timeout };
          await wrapper.sendToQueue(queue, content, options);
          break;
        } catch (error) {
          const reopening = this.#reopening;
          if (wrapper === this.#wrapper && reopening === undefined) {
            throw publishError(queue, timeoutMs, error);
          }
          if (reopening !== undefined) await reopening.done;
          if (this.#isClosed()) throw publishError(queue, timeoutMs, error);
        }
      }
      // The broker sends basic.return before the confirm of an unroutable mandatory message.
      if (this.#returned.has(publishId)) throw new UnroutableMessageError(queue);
    } finally {
      this.#returned.delete(publishId);
    }
  }

  /** Replaces the wrapper after `reopenDelayMs`, e.g. after the broker cancelled a consumer. */
  reopen(reason: Error): void {
    this.#replace(this.#wrapper, reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reopening !== undefined) {
      clearTimeout(this.#reopening.timer);
      this.#reopening.finish();
    }
    await this.#wrapper.close().catch(() => undefined);
  }

  #open(): ChannelWrapper {
    const wrapper = this.#manager.createChannel({
      name: this.#settings.name,
      confirm: true,
      publishTimeout: this.#settings.publishTimeoutMs,
      setup: async (channel: ConfirmChannel) => {
        if (this.#closed || wrapper !== this.#wrapper) {
          // The library may still set up a wrapper closed while it was connecting: an
          // orphan channel that nobody would close again.
          await channel.close().catch(() => undefined);
          return;
        }
        channel.on('return', (message: Message) => {
          const id: unknown = message.properties.headers?.[PUBLISH_ID_HEADER];
          if (typeof id === 'string') this.#returned.add(id);
        });
        channel.once('close', () => {
          this.#closedChannels.add(channel);
          this.#hooks.closed?.(channel);
        });
        // amqplib emits 'error' only when the channel itself is closed, not on connection loss.
        channel.on('error', (error: Error) => {
          this.#replace(wrapper, error);
        });
        await this.#hooks.setup(channel);
      },
    });
    wrapper.on('error', (error: unknown) => {
      this.#firstError ??= error;
      const { log, name } = this.#settings;
      log.warn({ err: error, channel: name }, 'amqp channel setup failed');
    });
    return wrapper;
  }

  #replace(wrapper: ChannelWrapper, error: Error): void {
    if (this.#closed || wrapper !== this.#wrapper || this.#reopening !== undefined) return;
    const { log, name, reopenDelayMs } = this.#settings;
    log.error({ err: error, channel: name, reopenDelayMs }, 'amqp channel lost, reopening it');
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = () => {
        this.#reopening = undefined;
        resolve();
      };
    });
    const timer = setTimeout(() => {
      if (!this.#closed && wrapper === this.#wrapper) {
        this.#wrapper = this.#open();
        void wrapper.close().catch(() => undefined);
      }
      finish();
    }, reopenDelayMs);
    this.#reopening = { timer, done, finish };
  }

  /** A method, so that TypeScript does not carry a narrowing of #closed across an await. */
  #isClosed(): boolean {
    return this.#closed;
  }
}

/** An error the broker answered with a reply code (404, 406...): running the setup again fails again. */
export function isBrokerRefusal(error: unknown): boolean {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 300;
}

function publishError(queue: string, timeoutMs: number, error: unknown): Error {
  // amqp-connection-manager's only sign of its publishTimeout is a bare Error('timeout').
  if (error instanceof Error && error.message === 'timeout') {
    return new PublishTimeoutError(queue, timeoutMs, { cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new PublishFailedError(queue, reason, { cause: error });
}
