import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The package root. */
export const ROOT = join(import.meta.dirname, '..')
/** The built `herald` executable the tests run. */
export const MAIN = join(ROOT, 'dist/cli/main.js')

const LOCK = join(ROOT, 'node_modules/.cache/herald-cli-build.lock')
const STALE_LOCK_MS = 5 * 60_000

function newestSource(dir: string): number {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const info = statSync(path)
    if (info.isDirectory()) {
      if (name !== 'testing') newest = Math.max(newest, newestSource(path))
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) newest = Math.max(newest, info.mtimeMs)
  }
  return newest
}

function isBuilt(): boolean {
  try {
    return statSync(MAIN).mtimeMs >= newestSource(join(ROOT, 'src'))
  } catch {
    return false
  }
}

/**
 * Makes sure `dist/` is built from the current sources (`npm test` builds first; a lone `vitest run` of a CLI test
 * builds here). Test files run in parallel, so one builds under a lock directory while the others wait for it.
 */
export async function ensureBuilt(): Promise<void> {
  mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true })
  for (;;) {
    if (isBuilt()) return
    try {
      mkdirSync(LOCK)
    } catch {
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true })
      } catch {
        // Released meanwhile.
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
      continue
    }
    try {
      // Type errors elsewhere in a shared tree do not stop tsc from emitting; what matters is a fresh main.js.
      spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'ignore' })
    } finally {
      rmSync(LOCK, { recursive: true, force: true })
    }
    if (!isBuilt()) throw new Error('building dist/ with tsc did not produce a fresh dist/cli/main.js')
    return
  }
}

/** An environment without the caller's `HERALD_*` settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('HERALD_')) env[key] = value
  return { ...env, ...extra }
}

/** A temporary directory, removed by `cleanup()`. */
export function tempDir(prefix = 'herald-cli-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

/** The result of a command that ran to completion. */
export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `herald <args>` to completion.
 *
 * @example
 * ```ts
 * const { status, stdout } = await runHerald(['version'])
 * ```
 */
export function runHerald(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN, ...args], { cwd: options.cwd ?? ROOT, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`herald ${args.join(' ')} did not finish in time\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 20_000)
    child.once('error', reject)
    child.once('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}

/** A running `herald` process (serve, or subscribe). */
export interface HeraldProcess {
  readonly child: ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: string
  readonly stderr: string
  /** Resolves once stdout matches `pattern`, with the match. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Sends `signal` and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves when the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `herald <args>` in the background.
 *
 * @example
 * ```ts
 * const sub = spawnHerald(['subscribe', '--url', url, '--topic', 'a'])
 * await sub.waitForStdout(/"data":"hello"/)
 * ```
 */
export function spawnHerald(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): HeraldProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? ROOT, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const l of [...listeners]) l()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal })
      for (const l of [...listeners]) l()
    })
  })
  return {
    child,
    get stdout() {
      return stdout
    },
    get stderr() {
      return stderr
    },
    waitForStdout(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(stdout)
          if (match !== null) {
            done()
            resolve(match)
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done()
            reject(new Error(`herald exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`))
          }
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`timed out waiting for ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`))
        }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const result = await exited
      clearTimeout(timer)
      return result
    },
    exited,
  }
}

/** A `herald serve` process that is listening. */
export interface HeraldServer extends HeraldProcess {
  /** The base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  /** The hub URL (`…/.well-known/mercure`). */
  readonly hubUrl: string
  readonly port: number
}

/**
 * Starts `herald serve --host 127.0.0.1 --port <port> <args>` (port 0 by default: a free one) and resolves once it
 * printed where it listens.
 *
 * @example
 * ```ts
 * const server = await startServe(['--mode', 'development', '--history', `sqlite:${dir}/h.db`], { cwd: dir })
 * await server.stop()
 * ```
 */
export async function startServe(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; port?: number } = {}): Promise<HeraldServer> {
  const serve = spawnHerald(['serve', '--host', '127.0.0.1', '--port', String(options.port ?? 0), ...args], options)
  let match: RegExpMatchArray
  try {
    match = await serve.waitForStdout(/listening on (http:\/\/127\.0\.0\.1:(\d+))/)
  } catch (error) {
    await serve.stop('SIGKILL')
    throw error
  }
  const url = match[1]!
  return Object.assign(serve, { url, hubUrl: `${url}/.well-known/mercure`, port: Number(match[2]) })
}
