/** Command-line options of `npm run bench:hub`. */
import { parseArgs } from 'node:util'
import { DEFAULT_LOAD_TIMINGS, type LoadTimings } from './loadgen/run-load.js'
import type { SourcePortMode } from './loadgen/source-plan.js'
import { isScenarioId, SCENARIO_IDS, type ScenarioId, type ScenarioOverrides } from './scenarios.js'
import { SYSTEMS } from './systems.js'

/** Default upper bound of one run (start to stop of one system on one scenario). @defaultValue 900 s */
export const DEFAULT_MAX_RUN_SECONDS = 900
/** Default number of load worker processes. @defaultValue 2 */
export const DEFAULT_WORKERS = 2
/** Default bound of the wait for a quiet machine before each run. @defaultValue 120 s */
export const DEFAULT_QUIET_WAIT_SECONDS = 120
/** Settle time of `--quick` runs. @defaultValue 300 ms */
export const QUICK_SETTLE_MS = 300
/** Drain idle time of `--quick` runs. @defaultValue 1,000 ms */
export const QUICK_DRAIN_IDLE_MS = 1_000

/** Usage text. */
export const HELP_TEXT = `Usage: npm run bench:hub -- [options]
       npm run bench:hub -- report <result.json>...   rewrite the docs report from result files (standard runs)
       npm run bench:hub -- scale-out <result.json | directory>...
                                                   two hub nodes against one, from result files (any runs)
       npm run bench:hub -- --list

Runs every chosen scenario on every chosen system (each run on a freshly started system),
writes one JSON file per run to --out and, for standard full-size runs that were not
interrupted, the table in docs/benchmarks.md and the charts in docs/bench/*.svg.

Selection
  --systems LIST            comma-separated (default: ${SYSTEMS.map((s) => s.name).join(',')})
  --scenarios LIST          comma-separated from ${SCENARIO_IDS.join(',')} (default: all)
  --quick                   scaled-down scenarios, a smoke run of a few seconds each
  --repeat N                runs per system and scenario (default 1)
Scenario overrides (the run is then marked non-standard)
  --subscribers N  --messages N  --rate R (0 = ack-paced)  --topics N  --payload BYTES  --hold-ms MS
Load generator
  --workers K               subscriber processes (default ${DEFAULT_WORKERS}; raised so none holds > 19,800 sockets)
  --source-ports MODE       auto | on | off: explicit source ports (default auto: above 2,000 per address)
  --connect-concurrency N   subscribe attempts in flight over all workers (default ${DEFAULT_LOAD_TIMINGS.connectConcurrency})
  --connect-timeout-ms MS   per subscribe (default ${DEFAULT_LOAD_TIMINGS.connectTimeoutMs})
  --settle-ms MS            pause after connecting (default ${DEFAULT_LOAD_TIMINGS.settleMs})
  --warmup-timeout-ms MS    (default ${DEFAULT_LOAD_TIMINGS.warmupTimeoutMs})
  --drain-idle-ms MS        stop waiting for deliveries after this long without one (default ${DEFAULT_LOAD_TIMINGS.drainIdleMs})
  --drain-max-ms MS         (default ${DEFAULT_LOAD_TIMINGS.drainMaxMs})
  --publish-in-flight N     publish requests in flight in rate mode (default ${DEFAULT_LOAD_TIMINGS.publishInFlight})
  --max-run-seconds S       abort a run after S seconds (default ${DEFAULT_MAX_RUN_SECONDS})
  --quiet-wait-seconds S    before each run, wait up to S seconds for the machine to be < 20 % busy
                            (default ${DEFAULT_QUIET_WAIT_SECONDS}, 0 with --quick; 0 disables)
Output
  --out DIR                 result files (default bench/out)
  --report | --no-report    force or suppress writing docs/benchmarks.md and docs/bench/*.svg
  --docs DIR                documentation directory (default docs)
  --keep-work-dirs          keep each run's configs and logs (kept anyway when a run fails)
  --help
`

/** Parsed command line. */
export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'list' }
  | { readonly kind: 'report'; readonly files: readonly string[]; readonly docsDir: string }
  /** Prints the scale-out table of the result files given, or found in the directories given. */
  | { readonly kind: 'scale-out'; readonly paths: readonly string[] }
  | { readonly kind: 'run'; readonly options: RunOptions }

/** Options of a benchmark run. */
export interface RunOptions {
  readonly systems: readonly string[]
  readonly scenarios: readonly ScenarioId[]
  readonly quick: boolean
  readonly repeat: number
  readonly overrides: ScenarioOverrides
  readonly workers: number
  readonly portMode: SourcePortMode
  readonly timings: LoadTimings
  readonly maxRunSeconds: number
  /** Before each run, wait up to this long for the machine to be quiet (0: do not wait). */
  readonly quietWaitSeconds: number
  readonly outDir: string
  /** `null`: decided by the kind of run (standard full-size runs write the report). */
  readonly report: boolean | null
  readonly docsDir: string
  readonly keepWorkDirs: boolean
}

/** A usage error: printed with the help text, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`)
  return n
}

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * Parses `argv` (without `node` and the script).
 *
 * @example
 * parseCli(['--systems', 'naive', '--scenarios', 'S', '--quick'])
 */
export function parseCli(argv: readonly string[]): CliCommand {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean' },
      list: { type: 'boolean' },
      systems: { type: 'string' },
      scenarios: { type: 'string' },
      quick: { type: 'boolean' },
      repeat: { type: 'string' },
      subscribers: { type: 'string' },
      messages: { type: 'string' },
      rate: { type: 'string' },
      topics: { type: 'string' },
      payload: { type: 'string' },
      'hold-ms': { type: 'string' },
      workers: { type: 'string' },
      'source-ports': { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'connect-timeout-ms': { type: 'string' },
      'settle-ms': { type: 'string' },
      'warmup-timeout-ms': { type: 'string' },
      'drain-idle-ms': { type: 'string' },
      'drain-max-ms': { type: 'string' },
      'publish-in-flight': { type: 'string' },
      'max-run-seconds': { type: 'string' },
      'quiet-wait-seconds': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'boolean' },
      'no-report': { type: 'boolean' },
      docs: { type: 'string' },
      'keep-work-dirs': { type: 'boolean' },
    },
  })
  if (values.help) return { kind: 'help' }
  if (values.list) return { kind: 'list' }
  const docsDir = values.docs ?? 'docs'
  if (positionals[0] === 'report') {
    const files = positionals.slice(1)
    if (files.length === 0) throw new UsageError('report needs at least one result file')
    return { kind: 'report', files, docsDir }
  }
  if (positionals[0] === 'scale-out') {
    const paths = positionals.slice(1)
    if (paths.length === 0) throw new UsageError('scale-out needs at least one result file or directory')
    return { kind: 'scale-out', paths }
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0] ?? ''}"`)

  const systems = list(values.systems) ?? SYSTEMS.map((s) => s.name)
  for (const name of systems) {
    if (!SYSTEMS.some((s) => s.name === name)) {
      throw new UsageError(`unknown system "${name}" (known: ${SYSTEMS.map((s) => s.name).join(', ')})`)
    }
  }
  const scenarios = list(values.scenarios) ?? [...SCENARIO_IDS]
  const scenarioIds = scenarios.map((id) => {
    const upper = id.toUpperCase()
    if (!isScenarioId(upper)) throw new UsageError(`unknown scenario "${id}" (known: ${SCENARIO_IDS.join(', ')})`)
    return upper
  })
  const portMode = values['source-ports'] ?? 'auto'
  if (portMode !== 'auto' && portMode !== 'on' && portMode !== 'off') {
    throw new UsageError(`--source-ports must be auto, on or off, got "${portMode}"`)
  }
  if (values.report && values['no-report']) throw new UsageError('--report and --no-report exclude each other')

  const overrides: Record<string, number> = {}
  const override = (key: keyof ScenarioOverrides, value: number | undefined): void => {
    if (value !== undefined) overrides[key] = value
  }
  override('subscribers', integer('subscribers', values.subscribers, 1))
  override('messages', integer('messages', values.messages, 1))
  override('ratePerSecond', integer('rate', values.rate, 0))
  override('topics', integer('topics', values.topics, 1))
  override('payloadBytes', integer('payload', values.payload, 1))
  override('holdMs', integer('hold-ms', values['hold-ms'], 0))

  const d = DEFAULT_LOAD_TIMINGS
  const timings: LoadTimings = {
    ...d,
    connectConcurrency: integer('connect-concurrency', values['connect-concurrency'], 1) ?? d.connectConcurrency,
    connectTimeoutMs: integer('connect-timeout-ms', values['connect-timeout-ms'], 1) ?? d.connectTimeoutMs,
    // A smoke run need not wait as long as a measurement.
    settleMs: integer('settle-ms', values['settle-ms'], 0) ?? (values.quick ? QUICK_SETTLE_MS : d.settleMs),
    warmupTimeoutMs: integer('warmup-timeout-ms', values['warmup-timeout-ms'], 1) ?? d.warmupTimeoutMs,
    drainIdleMs: integer('drain-idle-ms', values['drain-idle-ms'], 1) ?? (values.quick ? QUICK_DRAIN_IDLE_MS : d.drainIdleMs),
    drainMaxMs: integer('drain-max-ms', values['drain-max-ms'], 1) ?? d.drainMaxMs,
    publishInFlight: integer('publish-in-flight', values['publish-in-flight'], 1) ?? d.publishInFlight,
  }

  return {
    kind: 'run',
    options: {
      systems,
      scenarios: scenarioIds,
      quick: values.quick ?? false,
      repeat: integer('repeat', values.repeat, 1) ?? 1,
      overrides,
      workers: integer('workers', values.workers, 1) ?? DEFAULT_WORKERS,
      portMode,
      timings,
      maxRunSeconds: integer('max-run-seconds', values['max-run-seconds'], 1) ?? DEFAULT_MAX_RUN_SECONDS,
      quietWaitSeconds:
        integer('quiet-wait-seconds', values['quiet-wait-seconds'], 0) ?? (values.quick ? 0 : DEFAULT_QUIET_WAIT_SECONDS),
      outDir: values.out ?? 'bench/out',
      report: values.report ? true : values['no-report'] ? false : null,
      docsDir,
      keepWorkDirs: values['keep-work-dirs'] ?? false,
    },
  }
}
