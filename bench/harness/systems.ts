/**
 * The registry of systems the harness can benchmark, in report order. A new system (for example Herald's
 * server library or hub) is one module exporting a `SystemDefinition`, added to this list.
 */
import { betterSseSystem } from '../peers/better-sse.js'
import {
  heraldHubDelay20System,
  heraldHubDelay40System,
  heraldHubInterval0System,
  heraldHubInterval20System,
  heraldHubNagleSystem,
  heraldHubNats1System,
  heraldHubNats2System,
  heraldHubRedis1System,
  heraldHubRedis2System,
  heraldHubSqliteSystem,
  heraldHubSystem,
  heraldHubUncoalescedSystem,
  heraldHubWorkers2System,
} from '../peers/herald-hub.js'
import { heraldServerNagleSystem, heraldServerSystem } from '../peers/herald-server-system.js'
import { naiveSystem } from '../peers/naive.js'
import { nchanSystem } from '../peers/nchan.js'
import { pushpinSystem } from '../peers/pushpin.js'
import type { SystemDefinition } from './system.js'

/** Every known system. */
export const SYSTEMS: readonly SystemDefinition[] = [
  nchanSystem,
  pushpinSystem,
  naiveSystem,
  betterSseSystem,
  heraldServerSystem,
  heraldServerNagleSystem,
  heraldHubSystem,
  heraldHubNagleSystem,
  heraldHubUncoalescedSystem,
  heraldHubDelay20System,
  heraldHubDelay40System,
  heraldHubInterval0System,
  heraldHubInterval20System,
  heraldHubSqliteSystem,
  heraldHubWorkers2System,
  heraldHubRedis1System,
  heraldHubRedis2System,
  heraldHubNats1System,
  heraldHubNats2System,
]

/** Looks a system up by name; `undefined` when unknown. */
export function findSystem(name: string): SystemDefinition | undefined {
  return SYSTEMS.find((system) => system.name === name)
}
