export {
  ConfigError,
  JOB_STORAGE,
  LOCAL_SERVERS,
  env,
  loadConfig,
  serviceConfig,
  type DeepReadonly,
  type Env,
  type LoadConfigOptions,
  type ServiceConfig,
} from './config.ts';
