export { DEFAULT_NATS_BROKER_SUBJECT, NatsBroker } from './nats-broker.js'
export type { NatsBrokerOptions } from './nats-broker.js'
export { DEFAULT_NATS_REQUEST_TIMEOUT_MS, DEFAULT_NATS_URL } from './nats-connection.js'
export type { NatsEngineConnectionOptions } from './nats-connection.js'
export {
  DEFAULT_NATS_HISTORY_MAX_AGE_MS,
  DEFAULT_NATS_HISTORY_MAX_BYTES,
  DEFAULT_NATS_HISTORY_MAX_ENTRIES,
  DEFAULT_NATS_HISTORY_MAX_SCAN,
  DEFAULT_NATS_HISTORY_STREAM,
  DEFAULT_NATS_HISTORY_SUBJECT_PREFIX,
  NatsHistory,
} from './nats-history.js'
export type { NatsHistoryOptions } from './nats-history.js'
export { DEFAULT_NATS_STREAM_BROKER_BATCH_SIZE, DEFAULT_NATS_STREAM_BROKER_POLL_MS, NatsStreamBroker } from './nats-stream-broker.js'
export type { NatsStreamBrokerOptions } from './nats-stream-broker.js'
