export type { Broker, MissedMessages, SubscribeOptions, Unsubscribe } from './broker.js'
export { MemoryBroker } from './memory-broker.js'
export type { MemoryBrokerOptions } from './memory-broker.js'
