export { onShutdown, DEFAULT_SHUTDOWN_TIMEOUT_MS, type ShutdownOptions } from './shutdown.ts';
export { handleCrashes } from './crashes.ts';
export {
  checkReadiness,
  livenessAnswer,
  readinessAnswer,
  DEFAULT_CHECK_TIMEOUT_MS,
  type ProbeAnswer,
  type ReadinessCheck,
  type ReadinessReport,
} from './readiness.ts';
export {
  startProbeServer,
  type MetricsSource,
  type ProbeServer,
  type ProbeServerOptions,
} from './probe-server.ts';
export {
  startHttpServer,
  DEFAULT_SERVER_TIMEOUTS,
  type RunningServer,
  type ServerOptions,
  type ServerTimeouts,
} from './http-server.ts';
export { retryUntilAvailable, type RetryUntilAvailableOptions } from './retry.ts';
export { startPeriodic, type PeriodicTask } from './periodic.ts';
export { InFlight } from './in-flight.ts';
