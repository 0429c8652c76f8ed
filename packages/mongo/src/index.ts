/**
 * MongoDB for the services: one client per process with bounded waits and a readiness
 * ping, and the mapping of "server unavailable" driver errors to DependencyUnavailableError
 * (503, retryable) so that an outage is not reported as a bug.
 */
export { connectMongo, type MongoConnectOptions, type MongoConnection } from './connect.ts';
export { MONGODB, isDuplicateKeyError, isMongoUnavailable, mongoError } from './errors.ts';
