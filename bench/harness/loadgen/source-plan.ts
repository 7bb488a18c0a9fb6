/**
 * How subscribers are spread over worker processes, source addresses and source ports, so that no
 * process exceeds its open-files limit and ephemeral ports never run out.
 */

/** Most sockets one worker holds, whatever the open-files limit. @defaultValue 19,800 */
export const MAX_SOCKETS_PER_WORKER = 19_800
/** File descriptors a worker keeps for itself (IPC, stdio, the event loop). @defaultValue 200 */
export const WORKER_FD_RESERVE = 200
/** Most subscribers per source address. @defaultValue 10,000 */
export const MAX_SUBSCRIBERS_PER_ADDRESS = 10_000
/** First explicit source port; with ≤ 10,000 per address the ports stay below the ephemeral range. @defaultValue 20,000 */
export const SOURCE_PORT_BASE = 20_000
/** In `auto` mode, explicit ports are used above this many subscribers per address. @defaultValue 2,000 */
export const EXPLICIT_PORTS_THRESHOLD = 2_000

/** `auto`: explicit ports when many subscribers share an address; `on`/`off`: always/never. */
export type SourcePortMode = 'auto' | 'on' | 'off'

/** Inputs of {@link planSources}. */
export interface SourcePlanInput {
  readonly subscribers: number
  /** Workers asked for; raised when the subscribers would not fit. */
  readonly requestedWorkers: number
  /** RLIMIT_NOFILE soft limit the workers will run with. */
  readonly fdLimit: number
  readonly portMode: SourcePortMode
  /** Third octet of the source addresses (127.0.<octet>.n), 1…254, random per run by default. */
  readonly addressOctet: number
}

/** The plan: subscriber `i` goes to worker `i % workers`, address `i % addresses.length`, port as below. */
export interface SourcePlan {
  readonly workers: number
  readonly socketsPerWorker: number
  readonly addresses: readonly string[]
  /** Subscriber `i` binds port `portBase + floor(i / addresses.length)`; `null` = kernel-chosen. */
  readonly portBase: number | null
}

/**
 * Plans sources for a run.
 *
 * Why: on Linux, binding a source address with port 0 makes the kernel search for a free port, which
 * gets slow once thousands are taken, and each address has only ~28k ephemeral ports; TIME_WAIT sockets
 * from a previous run hold ports for 60 s. Spreading over several 127.0.R.n addresses with a per-run
 * random R, and choosing ports explicitly, avoids all three.
 *
 * @example
 * planSources({ subscribers: 19_000, requestedWorkers: 2, fdLimit: 20_000, portMode: 'auto', addressOctet: 42 })
 * // { workers: 2, socketsPerWorker: 19_800, addresses: ['127.0.42.1', '127.0.42.2'], portBase: 20000 }
 */
export function planSources(input: SourcePlanInput): SourcePlan {
  const { subscribers, requestedWorkers, fdLimit, portMode, addressOctet } = input
  if (!Number.isInteger(addressOctet) || addressOctet < 1 || addressOctet > 254) {
    throw new RangeError(`address octet must be 1…254, got ${addressOctet}`)
  }
  const socketsPerWorker = Math.max(1, Math.min(MAX_SOCKETS_PER_WORKER, fdLimit - WORKER_FD_RESERVE))
  const workers = Math.max(1, requestedWorkers, Math.ceil(subscribers / socketsPerWorker))
  const addressCount = Math.max(2, Math.ceil(subscribers / MAX_SUBSCRIBERS_PER_ADDRESS))
  const addresses = Array.from({ length: addressCount }, (_, n) => `127.0.${addressOctet}.${n + 1}`)
  const perAddress = Math.ceil(subscribers / addressCount)
  const explicit = portMode === 'on' || (portMode === 'auto' && perAddress > EXPLICIT_PORTS_THRESHOLD)
  return { workers, socketsPerWorker, addresses, portBase: explicit ? SOURCE_PORT_BASE : null }
}
