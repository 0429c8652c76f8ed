export {
  ConfigError,
  env,
  loadConfig,
  type DeepReadonly,
  type Env,
  type LoadConfigOptions,
} from './config.ts';
