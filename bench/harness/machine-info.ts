/** Describes the machine a run happened on, for the result files and the report. */
import { cpus, loadavg, release, totalmem } from 'node:os'
import { readFdLimit } from './fd-limit.js'
import type { RunResult } from './report/run-result.js'

/**
 * CPU count and model, memory, kernel, Node version, the open-files limit and the current load average.
 *
 * @example
 * machineInfo() // { cpus: 2, cpuModel: 'AMD EPYC …', memoryMB: 24000, kernel: '6.1.0', node: 'v20.20.2', fdLimit: 20000, loadAverage1m: 0.4 }
 */
export function machineInfo(): RunResult['machine'] {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryMB: Math.round(totalmem() / 2 ** 20),
    kernel: release(),
    node: process.version,
    fdLimit: readFdLimit().soft,
    loadAverage1m: loadavg()[0] ?? 0,
  }
}
