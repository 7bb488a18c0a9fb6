import { spawn, type ChildProcess } from 'node:child_process'

/** A program started by {@link startProgram}. */
export interface RunningProgram {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Sends SIGTERM (then SIGKILL after `graceMs`) and resolves with the exit code once it exited. */
  stop(graceMs?: number): Promise<number | null>
}

/**
 * Starts `node <args>` and resolves once its output matches `ready`. Rejects if it exits first or on timeout,
 * with its output in the message.
 *
 * @example
 * ```ts
 * const program = await startProgram(['examples/clock/server.mjs'], { env: { PORT: String(port) }, ready: /http:\/\// })
 * await program.stop()
 * ```
 */
export function startProgram(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; ready: RegExp; timeoutMs?: number },
): Promise<RunningProgram> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const program: RunningProgram = {
    child,
    output: () => output,
    async stop(graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
        const code = await exited
        clearTimeout(timer)
        return code
      }
      return exited
    },
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`not ready within ${options.timeoutMs ?? 10_000} ms:\n${output}`))
    }, options.timeoutMs ?? 10_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (options.ready.test(output)) {
        clearTimeout(timer)
        resolve(program)
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`exited with code ${String(code)} before it was ready:\n${output}`))
    })
  })
}
