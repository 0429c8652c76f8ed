export {
  problemHandler,
  notFoundHandler,
  sendProblem,
  PROBLEM_CONTENT_TYPE,
  type Problem,
} from './problem.ts';
export { requestContext, accessLog, REQUEST_ID_HEADER } from './request-context.ts';
export { healthRoutes, type ReadinessCheck } from './health.ts';
export {
  methodNotAllowed,
  routeMethods,
  MethodNotAllowedError,
  type AllowedMethods,
} from './methods.ts';
export { createServiceApp, type ServiceAppOptions } from './service-app.ts';
export {
  listen,
  serveApp,
  type HttpService,
  type HttpServiceParts,
  type ListenOptions,
  type RunningServer,
  type ServerTimeouts,
} from './server.ts';
export {
  createHttpClient,
  DEFAULT_CLIENT_CONNECTIONS,
  DEFAULT_CLIENT_KEEP_ALIVE_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  type HttpClient,
  type HttpClientOptions,
  type OutboundRequest,
  type OutboundResponse,
} from './http-client.ts';
export {
  formatContentRange,
  requestedRange,
  type ByteRange,
  type RequestedRange,
} from '@mp3converter/http-range';
