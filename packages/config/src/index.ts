export {
  ConfigError,
  LOCAL_SERVERS,
  env,
  loadConfig,
  type DeepReadonly,
  type Env,
  type LoadConfigOptions,
} from './config.ts';
