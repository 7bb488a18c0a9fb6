// Argument checks shared by the history engines. Internal: not re-exported from index.ts.
import { HubError } from '../errors.js'
import type { HubUpdate } from '../update.js'
import { validateHubUpdate } from '../update.js'
import type { ReadQuery } from './history-store.js'

/**
 * Validates an update and returns a frozen copy with absent optional fields left out, so that a stored update never
 * changes when the caller mutates its object and never carries `type: undefined`.
 */
export function copyUpdate(update: HubUpdate): HubUpdate {
  const problem = validateHubUpdate(update)
  if (problem !== undefined) throw new HubError('ERR_HUB_HISTORY_INVALID_UPDATE', problem)
  const copy: { -readonly [K in keyof HubUpdate]: HubUpdate[K] } = {
    id: update.id,
    topics: Object.freeze([...update.topics]),
    data: update.data,
    private: update.private,
  }
  if (update.type !== undefined) copy.type = update.type
  if (update.retry !== undefined) copy.retry = update.retry
  return Object.freeze(copy)
}

/** Checks a read query and returns how many entries the read may examine: `scanLimit` capped at `maxScan`. */
export function checkReadQuery(query: ReadQuery, maxScan: number): number {
  if (typeof query !== 'object' || (query as unknown) === null) invalidQuery('a read query must be an object')
  if (typeof query.match !== 'function') invalidQuery('query.match must be a function')
  if (!isPositiveInteger(query.limit)) invalidQuery(`query.limit must be a positive integer, not ${String(query.limit)}`)
  const { scanLimit } = query
  if (scanLimit === undefined) return maxScan
  if (!isPositiveInteger(scanLimit)) invalidQuery(`query.scanLimit must be a positive integer, not ${String(scanLimit)}`)
  return Math.min(scanLimit, maxScan)
}

/** Checks the id given to `locate`. */
export function checkLocateId(id: string): void {
  if (typeof id !== 'string') invalidQuery(`locate takes a string id, not ${typeof id}`)
}

/** Throws `ERR_HUB_HISTORY_INVALID_QUERY`. */
export function invalidQuery(message: string): never {
  throw new HubError('ERR_HUB_HISTORY_INVALID_QUERY', message)
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}
