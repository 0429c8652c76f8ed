export {
  problemHandler,
  notFoundHandler,
  sendProblem,
  PROBLEM_CONTENT_TYPE,
  type Problem,
} from './problem.ts';
export { requestContext, accessLog, REQUEST_ID_HEADER } from './request-context.ts';
export { healthRoutes, type ReadinessCheck } from './health.ts';
export { listen, onShutdownSignal, type RunningServer } from './server.ts';
