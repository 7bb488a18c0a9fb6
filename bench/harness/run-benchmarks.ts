/**
 * Runs the chosen scenarios on the chosen systems: for each run, a fresh work directory, a freshly
 * started system, the load run, an orderly stop, and one JSON result file.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtProgramPath } from './built-program.js'
import type { RunOptions } from './cli-options.js'
import { readFdLimit } from './fd-limit.js'
import { LoadRun } from './loadgen/run-load.js'
import { machineInfo } from './machine-info.js'
import { ProcMeter } from './proc-meter.js'
import { processTree } from './process-tree.js'
import { QUIET_BUSY_SHARE, waitForQuietMachine } from './quiet-machine.js'
import type { ProgressLine } from './progress-line.js'
import { formatSummaryLine } from './report/markdown-table.js'
import { RUN_RESULT_SCHEMA, type RunResult } from './report/run-result.js'
import { resolveScenario, type ScenarioId } from './scenarios.js'
import type { RunningSystem, SystemDefinition } from './system.js'

/** What a benchmark session produced. */
export interface BenchmarkOutcome {
  readonly results: readonly RunResult[]
  /** Result files written, in run order. */
  readonly files: readonly string[]
  readonly skipped: readonly { readonly system: string; readonly reason: string }[]
  readonly failures: readonly { readonly system: string; readonly scenario: string; readonly error: string }[]
  /** Every run used the standard full-size scenarios. */
  readonly standard: boolean
}

/** Context the runs need besides the options. */
export interface BenchmarkContext {
  readonly systems: readonly SystemDefinition[]
  /** Directory of the compiled programs. */
  readonly buildDir: string
  readonly progress: ProgressLine
  readonly signal: AbortSignal
}

const safeName = (text: string): string => text.replace(/[^A-Za-z0-9_.-]+/g, '-')

/**
 * Runs every (scenario, system, repeat) combination in order: scenarios outermost, so the systems of one
 * scenario run back to back under the same machine conditions, then rounds, each running every system once, so that
 * the repeats of one system are spread over the batch. Why rounds: a shared machine's speed drifts over minutes (one
 * batch here saw one system's CPU per delivery go from 4.4 to 7.2 µs within the hour), and with the repeats of one
 * system back to back, such a drift fell on one system only and showed as a difference between systems.
 */
export async function runBenchmarks(options: RunOptions, context: BenchmarkContext): Promise<BenchmarkOutcome> {
  const { progress, signal } = context
  const log = (line: string): void => progress.log(line)
  const results: RunResult[] = []
  const files: string[] = []
  const skipped: { system: string; reason: string }[] = []
  const failures: { system: string; scenario: string; error: string }[] = []
  mkdirSync(options.outDir, { recursive: true })

  const available: SystemDefinition[] = []
  for (const system of context.systems) {
    const availability = await system.check(log)
    if (availability.available) available.push(system)
    else {
      log(`skipping ${system.name}: ${availability.reason}`)
      skipped.push({ system: system.name, reason: availability.reason })
    }
  }

  let standard = true
  for (const scenarioId of options.scenarios) {
    for (let round = 1; round <= options.repeat; round++) {
      for (const system of available) {
        if (signal.aborted) break
        const label = `[${system.name} ${scenarioId}${options.repeat > 1 ? ` #${round}` : ''}]`
        try {
          const result = await runOne(system, scenarioId, options, context, label)
          if (!result.scenario.standard) standard = false
          results.push(result)
          const file = join(
            options.outDir,
            `${result.startedAt.replace(/[:.]/g, '-')}-${safeName(system.name)}-${scenarioId}.json`,
          )
          writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
          files.push(file)
          log(`${label} ${formatSummaryLine(result)}`)
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          log(`${label} FAILED: ${message}`)
          failures.push({ system: system.name, scenario: scenarioId, error: message })
        }
      }
    }
  }
  progress.clear()
  return { results, files, skipped, failures, standard: standard && results.length > 0 }
}

async function runOne(
  definition: SystemDefinition,
  scenarioId: ScenarioId,
  options: RunOptions,
  context: BenchmarkContext,
  label: string,
): Promise<RunResult> {
  const { progress } = context
  const scenario = resolveScenario(scenarioId, { quick: options.quick, overrides: options.overrides })
  const workDir = mkdtempSync(join(tmpdir(), `herald-bench-${safeName(definition.name)}-`))
  const notes: string[] = []
  let keepWorkDir = options.keepWorkDirs

  if (options.quietWaitSeconds > 0) {
    const busy = await waitForQuietMachine({
      maxWaitMs: options.quietWaitSeconds * 1000,
      signal: context.signal,
      onWait: (share) => progress.update(`${label} waiting for a quiet machine: ${(share * 100).toFixed(0)} % busy`),
    })
    if (busy >= QUIET_BUSY_SHARE) {
      notes.push(`the machine was still ${(busy * 100).toFixed(0)} % busy after waiting ${options.quietWaitSeconds} s`)
    }
  }

  const startedAt = new Date().toISOString()
  const machine = machineInfo()

  // One deadline for the whole run; Ctrl-C (the outer signal) ends it too.
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.maxRunSeconds * 1000)
  const onOuterAbort = (): void => controller.abort()
  context.signal.addEventListener('abort', onOuterAbort, { once: true })

  progress.update(`${label} starting ${definition.name}`, true)
  let system: RunningSystem | null = null
  let load: LoadRun | null = null
  try {
    system = await definition.start({
      workDir,
      buildDir: context.buildDir,
      expectedConnections: scenario.subscribers,
      log: (line) => progress.log(`${label} ${line}`),
    })
    const pids = processTree(system.pids()).map((p) => p.pid)
    writeFileSync(join(workDir, 'pids.json'), `${JSON.stringify({ roots: system.pids(), tree: pids })}\n`)

    let runScenario = scenario
    const cap = system.limits?.maxConnections
    if (cap !== undefined && scenario.subscribers > cap) {
      notes.push(`${definition.name} holds at most ${cap} connections here: ${scenario.subscribers} capped to ${cap}`)
      runScenario = { ...scenario, subscribers: cap, title: `${scenario.title} (capped ${cap})` }
    }
    const runId = randomBytes(4).toString('hex')
    const topics = Array.from({ length: runScenario.topics }, (_, t) => `bench-${runId}-${t}`)
    const fdLimit = readFdLimit().soft
    load = new LoadRun({
      system,
      scenario: runScenario,
      topics,
      workerProgram: builtProgramPath(context.buildDir, 'load-worker'),
      workers: options.workers,
      portMode: options.portMode,
      fdLimit,
      timings: options.timings,
      meter: new ProcMeter(() => system?.pids() ?? []),
      progress,
      label,
      signal: controller.signal,
    })
    const outcome = await load.run()
    if (controller.signal.aborted) throw new Error(context.signal.aborted ? 'interrupted' : `run exceeded ${options.maxRunSeconds} s`)
    return {
      schema: RUN_RESULT_SCHEMA,
      startedAt,
      system: { name: definition.name, version: system.version },
      scenario: {
        id: runScenario.id,
        title: runScenario.title,
        standard: scenario.standard && runScenario === scenario,
        subscribers: runScenario.subscribers,
        messages: runScenario.messages,
        ratePerSecond: runScenario.ratePerSecond,
        topics: runScenario.topics,
        payloadBytes: runScenario.payloadBytes,
        holdMs: runScenario.holdMs,
      },
      machine,
      connections: outcome.connections,
      publish: outcome.publish,
      delivery: outcome.delivery,
      server: outcome.server,
      client: outcome.client,
      cpuPublishPhase: outcome.cpuPublishPhase,
      notes: [...notes, ...outcome.notes],
    }
  } catch (error) {
    keepWorkDir = true
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${message} (configs and logs kept in ${workDir})`)
  } finally {
    clearTimeout(timer)
    context.signal.removeEventListener('abort', onOuterAbort)
    // Stop the server first: it closes the streams, so TIME_WAIT sockets stay on its side, not on the
    // client's source ports that the next run may reuse.
    progress.update(`${label} stopping ${definition.name}`, true)
    try {
      await system?.stop()
    } finally {
      await load?.close()
      if (!keepWorkDir) rmSync(workDir, { recursive: true, force: true })
    }
  }
}
