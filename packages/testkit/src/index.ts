export { servicePath, testServers, testLogLevel } from './env.ts';
export { createTestDatabase, type TestDatabase } from './mysql.ts';
export { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.ts';
export { Mailbox, type MailboxEmail } from './mailbox.ts';
export { serviceNodeOptions } from './node-options.ts';
export { waitFor } from './wait.ts';
export {
  spawnService,
  type ServiceProcess,
  type LogLine,
  type SpawnOptions,
} from './service-process.ts';
export {
  generateMedia,
  probeMedia,
  truncateFile,
  type MediaSpec,
  type AudioSpec,
  type MediaContainer,
  type ProbedMedia,
  type ProbedStream,
} from './media.ts';
export { rawRequest, type RawResponse } from './http-client.ts';
export {
  Inspector,
  deleteQueues,
  dropConnections,
  getQueue,
  headersOf,
  queueNames,
  createTestVhost,
  runPrefix,
  type TestVhost,
  type QueueInfo,
} from './rabbitmq.ts';
export { InProcessServices, type StartedService } from './in-process.ts';
