/** A service as its start function gives it back (a server or a worker). */
export interface StartedService {
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Services a test runs in its own process, each stopped once, those left by `stopAll()`. */
export class InProcessServices<S extends StartedService> {
  readonly #running = new Set<S>();

  /** Starts one with `start`, and resolves once it is ready. */
  async start(start: () => Promise<S>): Promise<S> {
    const service = await start();
    this.#running.add(service);
    await service.ready;
    return service;
  }

  async stop(service: S): Promise<void> {
    this.#running.delete(service);
    await service.stop();
  }

  /** Stops every one still running; one failing to stop does not keep the others running. */
  async stopAll(): Promise<void> {
    const running = [...this.#running];
    this.#running.clear();
    await Promise.allSettled(running.map((service) => service.stop()));
  }
}
