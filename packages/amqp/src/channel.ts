import type { ConfirmChannel, Message } from 'amqplib';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import { DependencyUnavailableError } from '@mp3converter/errors';
import type { Logger } from '@mp3converter/logging';
import { TopologyError } from './errors.ts';

export interface ChannelHooks {
  /** Runs on every new raw channel (first, after reconnects, after a replacement) before use. */
  setup(channel: ConfirmChannel): Promise<void>;
  /** Runs on each new wrapper, the first and every replacement: e.g. `wrapper.consume(...)`. */
  opened?(wrapper: ChannelWrapper): Promise<void>;
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

/**
 * A confirm channel kept open by amqp-connection-manager, plus what the library lacks:
 * - it reopens a channel only after the whole connection drops; a channel the broker
 *   closed alone (consumer_timeout, PRECONDITION_FAILED, NOT_FOUND) would stay dead.
 *   Here that wrapper is replaced, alone: other channels and their work carry on;
 * - it does not track which raw channel is open, and a delivery must be acked on the
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
  #current: ConfirmChannel | undefined;
  /** The `opened` hook's run on the current wrapper. */
  #opened: Promise<void> = Promise.resolve();
  #firstError: unknown;
  #reopenTimer: NodeJS.Timeout | undefined;
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

  /** The raw channel in use now: deliveries arriving now come on it. */
  get current(): ConfirmChannel | undefined {
    return this.#current;
  }

  isOpen(channel: ConfirmChannel): boolean {
    return !this.#closedChannels.has(channel);
  }

  /** True once if the broker returned the message with this id as unroutable. */
  takeReturned(messageId: string): boolean {
    return this.#returned.delete(messageId);
  }

  /**
   * Resolves once the first wrapper is set up and opened. Rejects with TopologyError if the
   * broker refused the setup (e.g. a queue declared with other arguments), or with
   * DependencyUnavailableError if that did not happen within `timeoutMs`.
   */
  async ready(timeoutMs: number, queue?: string): Promise<void> {
    const wrapper = this.#wrapper;
    const fail = (error: unknown): Error => {
      if (!isBrokerRefusal(error))
        return new DependencyUnavailableError('rabbitmq', { cause: error });
      const text = error instanceof Error ? error.message : String(error);
      return new TopologyError(`setting up ${this.#settings.name} failed: ${text}`, queue, {
        cause: error,
      });
    };
    let timer: NodeJS.Timeout | undefined;
    let onError: ((error: unknown) => void) | undefined;
    try {
      await Promise.race([
        Promise.all([
          wrapper.waitForConnect(),
          this.#opened.catch((error: unknown) => {
            throw fail(error);
          }),
        ]),
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

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reopenTimer);
    await this.#wrapper.close().catch(() => undefined);
  }

  #open(): ChannelWrapper {
    const wrapper = this.#manager.createChannel({
      name: this.#settings.name,
      confirm: true,
      publishTimeout: this.#settings.publishTimeoutMs,
      setup: async (channel: ConfirmChannel) => {
        this.#current = channel;
        channel.on('return', (message: Message) => {
          const id: unknown = message.properties.messageId;
          if (typeof id === 'string') this.#returned.add(id);
        });
        channel.once('close', () => {
          this.#closedChannels.add(channel);
          this.#hooks.closed?.(channel);
        });
        // amqplib emits 'error' only when the broker closes this channel, not on connection loss.
        channel.on('error', (error: Error) => {
          this.#replace(wrapper, error);
        });
        await this.#hooks.setup(channel);
      },
    });
    wrapper.on('error', (error: unknown) => {
      this.#firstError ??= error;
      this.#settings.log.warn(
        { err: error, channel: this.#settings.name },
        'amqp channel setup failed',
      );
    });
    this.#opened = this.#hooks.opened?.(wrapper) ?? Promise.resolve();
    this.#opened.catch((error: unknown) => {
      this.#settings.log.error(
        { err: error, channel: this.#settings.name },
        'amqp channel open failed',
      );
    });
    return wrapper;
  }

  #replace(wrapper: ChannelWrapper, error: Error): void {
    if (this.#closed || wrapper !== this.#wrapper) return;
    const { log, name, reopenDelayMs } = this.#settings;
    log.error(
      { err: error, channel: name, reopenDelayMs },
      'amqp channel closed by the broker, reopening it',
    );
    clearTimeout(this.#reopenTimer);
    this.#reopenTimer = setTimeout(() => {
      if (this.#closed || wrapper !== this.#wrapper) return;
      void wrapper.close().catch(() => undefined);
      this.#wrapper = this.#open();
    }, reopenDelayMs);
  }
}

/** An error the broker answered with a reply code (404, 406...): running the setup again fails again. */
export function isBrokerRefusal(error: unknown): boolean {
  const code: unknown = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 300;
}
