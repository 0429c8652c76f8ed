import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Work in progress that shutdown must wait for even after its caller stopped waiting (a
 * consumer hands a message back after its grace period, but the handler still has to stop
 * its child process, remove its files or record what it sent).
 */
export class InFlight {
  readonly #running = new Set<Promise<unknown>>();

  /** Runs `work`, keeping track of it until it settles; resolves or rejects as it does. */
  run<T>(work: () => Promise<T> | T): Promise<T> {
    const running = Promise.resolve().then(work);
    const settled = running.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return running;
  }

  /** Resolves once all work running now has settled, or after `timeoutMs`, whichever is first. */
  async settled(timeoutMs: number): Promise<void> {
    await Promise.race([Promise.all(this.#running), sleep(timeoutMs, undefined, { ref: false })]);
  }

  get size(): number {
    return this.#running.size;
  }
}
