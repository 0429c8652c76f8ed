export { runService, type RunServiceOptions, type RunningService } from './run-service.ts';
export { Backends, type BackendOptions, type Connected } from './backends.ts';
export {
  startWorker,
  consumerOf,
  type Worker,
  type WorkerConsumer,
  type WorkerOptions,
} from './worker.ts';
export { ServiceMetrics, type LabelValues } from './metrics.ts';
