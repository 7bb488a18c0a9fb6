/**
 * Starts a long-running program in its own session with its output in a log file, records its PID, and
 * stops it by that PID only: SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'

/** Grace period between SIGTERM and SIGKILL. @defaultValue 10,000 ms */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000

/** How to start a service. */
export interface ChildServiceOptions {
  /** Name for messages. */
  readonly name: string
  readonly command: string
  readonly args: readonly string[]
  /** stdout and stderr go here (appended). */
  readonly logFile: string
  readonly cwd?: string
  /** Added to the harness's environment. */
  readonly env?: Readonly<Record<string, string>>
}

/** How a service ended. */
export interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A started service. */
export interface ChildService {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  /** Resolves when the process has exited. */
  readonly exited: Promise<ChildExit>
  /** `true` until the process exits. */
  isRunning(): boolean
  /** Sends `signal` (default SIGTERM), waits up to `timeoutMs`, then SIGKILL; resolves once it exited. */
  stop(options?: { readonly signal?: NodeJS.Signals; readonly timeoutMs?: number }): Promise<ChildExit>
  /** The last `lines` lines of the log, for error messages. */
  logTail(lines?: number): string
}

/**
 * Starts a service. The process gets its own session (`detached`), so a Ctrl-C on the terminal reaches
 * only the harness, which then stops its services in order.
 *
 * @example
 * const nginx = await startChildService({ name: 'nginx', command: 'nginx', args: ['-c', conf], logFile })
 * await nginx.stop()
 */
export function startChildService(options: ChildServiceOptions): Promise<ChildService> {
  const log = openSync(options.logFile, 'a')
  try {
    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', log, log],
      detached: true,
    })
    let running = true
    const isRunning = (): boolean => running
    const exited = new Promise<ChildExit>((resolve) => {
      child.once('exit', (code, signal) => {
        running = false
        resolve({ code, signal })
      })
    })
    return new Promise((resolve, reject) => {
      child.once('error', (error) => {
        running = false
        reject(new Error(`${options.name}: cannot start ${options.command}: ${error.message}`))
      })
      child.once('spawn', () => {
        const pid = child.pid
        if (pid === undefined) return reject(new Error(`${options.name}: no PID after spawn`))
        const logTail = (lines = 20): string => {
          try {
            return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
          } catch {
            return ''
          }
        }
        resolve({
          name: options.name,
          pid,
          logFile: options.logFile,
          exited,
          isRunning,
          logTail,
          async stop(stopOptions = {}) {
            if (!isRunning()) return exited
            process.kill(pid, stopOptions.signal ?? 'SIGTERM')
            const timeoutMs = stopOptions.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS
            let timer: NodeJS.Timeout | undefined
            const late = new Promise<'late'>((resolveLate) => {
              timer = setTimeout(() => resolveLate('late'), timeoutMs)
            })
            const first = await Promise.race([exited, late])
            clearTimeout(timer)
            if (first === 'late' && isRunning()) process.kill(pid, 'SIGKILL')
            return exited
          },
        })
      })
    })
  } finally {
    closeSync(log) // the child holds its own copy of the descriptor
  }
}
