/**
 * Entry point of the hub benchmark harness (`npm run bench:hub`), called by `run.mjs` once the
 * TypeScript sources are compiled. Results go to stdout (a markdown table), progress to stderr.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { HELP_TEXT, parseCli, UsageError } from './cli-options.js'
import { ProgressLine } from './progress-line.js'
import { renderMarkdownTable } from './report/markdown-table.js'
import { parseRunResult, type RunResult } from './report/run-result.js'
import { renderScaleOutTable } from './report/scale-out-table.js'
import { writeReport } from './report/write-report.js'
import { runBenchmarks } from './run-benchmarks.js'
import { SCENARIO_IDS, resolveScenario } from './scenarios.js'
import { SYSTEMS } from './systems.js'

/** Where the harness lives. */
export interface MainContext {
  /** Directory of the compiled programs (the load worker, the Node servers). */
  readonly buildDir: string
}

const systemOrder = SYSTEMS.map((s) => s.name)

/**
 * Runs the command line `argv` and resolves to the exit status: 0 success, 1 a run failed, 2 usage error,
 * 130 interrupted.
 */
export async function main(argv: readonly string[], context: MainContext): Promise<number> {
  let command
  try {
    command = parseCli(argv)
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error
    process.stderr.write(`${error.message}\n\n${HELP_TEXT}`)
    return 2
  }

  if (command.kind === 'help') {
    process.stdout.write(HELP_TEXT)
    return 0
  }
  if (command.kind === 'list') {
    process.stdout.write('Systems:\n')
    const width = Math.max(...SYSTEMS.map((s) => s.name.length))
    for (const s of SYSTEMS) process.stdout.write(`  ${s.name.padEnd(width)}  ${s.description}\n`)
    process.stdout.write('Scenarios:\n')
    for (const id of SCENARIO_IDS) {
      const s = resolveScenario(id, { quick: false, overrides: {} })
      process.stdout.write(`  ${id}  ${s.description}\n`)
    }
    return 0
  }
  if (command.kind === 'report') {
    const all = command.files.map((file) => ({ file, result: parseRunResult(readFileSync(resolve(file), 'utf8'), file) }))
    // Quick and overridden runs are smoke tests, not measurements: they never enter the report.
    const skipped = all.filter((entry) => !entry.result.scenario.standard)
    for (const { file } of skipped) process.stderr.write(`skipping ${file}: quick or non-standard scenario\n`)
    const results = all.filter((entry) => entry.result.scenario.standard).map((entry) => entry.result)
    if (results.length === 0) {
      process.stderr.write('report: no standard full-size run among the files\n')
      return 2
    }
    const files = writeReport(results, resolve(command.docsDir), systemOrder)
    process.stdout.write(`${renderMarkdownTable(results, systemOrder)}\n\nwrote ${files.markdown}, ${files.charts.join(', ')}\n`)
    return 0
  }

  if (command.kind === 'scale-out') {
    let results: RunResult[]
    try {
      results = command.paths.flatMap((path) => readResults(resolve(path)))
    } catch (error) {
      process.stderr.write(`scale-out: ${(error as Error).message}\n`)
      return 2
    }
    const table = renderScaleOutTable(results)
    if (table === null) {
      process.stderr.write('scale-out: no scenario with runs of herald-hub and of herald-hub-redis-2 or herald-hub-nats-2\n')
      return 2
    }
    process.stdout.write(`${table}\n`)
    return 0
  }

  const options = { ...command.options, outDir: resolve(command.options.outDir), docsDir: resolve(command.options.docsDir) }
  const progress = new ProgressLine()
  const controller = new AbortController()
  const interrupt = (): void => {
    progress.log('interrupted: stopping the running system and the load workers…')
    controller.abort()
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    const outcome = await runBenchmarks(options, {
      systems: SYSTEMS.filter((s) => options.systems.includes(s.name)),
      buildDir: context.buildDir,
      progress,
      signal: controller.signal,
    })
    if (outcome.results.length > 0) {
      process.stdout.write(`${renderMarkdownTable(outcome.results, systemOrder)}\n`)
      const scaleOut = renderScaleOutTable(outcome.results)
      if (scaleOut !== null) process.stdout.write(`\n${scaleOut}\n`)
      process.stderr.write(`\nresults: ${outcome.files.join('\n         ')}\n`)
    }
    // An interrupted run wrote only part of its results: it leaves the report as it was, unless --report forces it.
    const report = options.report ?? (outcome.standard && !controller.signal.aborted)
    if (report && outcome.results.length > 0) {
      const files = writeReport(outcome.results, options.docsDir, systemOrder)
      process.stderr.write(`report: ${files.markdown}\n        ${files.charts.join('\n        ')}\n`)
    } else if (outcome.results.length > 0) {
      const why = controller.signal.aborted ? 'the run was interrupted' : 'quick or non-standard scenarios'
      process.stderr.write(`report: not written (${why}; --report forces it)\n`)
    }
    for (const s of outcome.skipped) process.stderr.write(`skipped ${s.system}: ${s.reason}\n`)
    for (const f of outcome.failures) process.stderr.write(`failed ${f.system} ${f.scenario}: ${f.error}\n`)
    if (controller.signal.aborted) return 130
    return outcome.failures.length > 0 ? 1 : 0
  } finally {
    process.off('SIGINT', interrupt)
    process.off('SIGTERM', interrupt)
  }
}

/**
 * The run results at `path`: the file itself (which must be one), or every `.json` file under the directory that is a
 * run result, in name order (others, such as a build's `package.json`, are passed over).
 *
 * @throws `Error` for a path that cannot be read, or a file named directly that is not a run result.
 */
function readResults(path: string, inDirectory = false): RunResult[] {
  if (statSync(path).isDirectory()) {
    return readdirSync(path, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .filter((entry) => entry.isDirectory() || entry.name.endsWith('.json'))
      .flatMap((entry) => readResults(join(path, entry.name), true))
  }
  try {
    return [parseRunResult(readFileSync(path, 'utf8'), path)]
  } catch (error) {
    if (inDirectory) return []
    throw error
  }
}
