export { DEFAULT_REDIS_BROKER_CHANNEL, RedisBroker } from './redis-broker.js'
export type { RedisBrokerOptions } from './redis-broker.js'
export { DEFAULT_REDIS_COMMAND_TIMEOUT_MS, DEFAULT_REDIS_MAX_QUEUED_COMMANDS, DEFAULT_REDIS_URL } from './redis-connection.js'
export type { RedisEngineClientOptions } from './redis-connection.js'
export {
  DEFAULT_REDIS_HISTORY_KEY_PREFIX,
  DEFAULT_REDIS_HISTORY_MAX_AGE_MS,
  DEFAULT_REDIS_HISTORY_MAX_BYTES,
  DEFAULT_REDIS_HISTORY_MAX_ENTRIES,
  DEFAULT_REDIS_HISTORY_MAX_SCAN,
  RedisHistory,
} from './redis-history.js'
export type { RedisHistoryOptions } from './redis-history.js'
export { DEFAULT_REDIS_STREAM_BROKER_BATCH_SIZE, DEFAULT_REDIS_STREAM_BROKER_POLL_MS, RedisStreamBroker } from './redis-stream-broker.js'
export type { RedisStreamBrokerOptions } from './redis-stream-broker.js'
