/** Where a command writes text. `process.stdout` and `process.stderr` fit. */
export interface TextOutput {
  write(text: string): unknown
}

/**
 * What a command talks to instead of `process`: its output streams, the environment, the working directory and a
 * signal that asks long-running commands (`serve`, `subscribe`) to stop. `main.ts` builds it from `process`; tests
 * build their own.
 */
export interface CliIo {
  /** Results: ids, tokens, events, JSON. */
  readonly stdout: TextOutput
  /** Diagnostics: banners, warnings, errors. */
  readonly stderr: TextOutput
  /** Environment variables (`HERALD_…`). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** The directory relative paths are resolved against. */
  readonly cwd: string
  /**
   * Aborted when the command should stop (SIGTERM or SIGINT): `serve` drains and resolves, `subscribe` closes its
   * stream and resolves.
   */
  readonly signal: AbortSignal
}

/** A command: takes its arguments (after the verb), returns the exit status. Never calls `process.exit`. */
export type Command = (args: readonly string[], io: CliIo) => Promise<number>

/** Exit status for success. */
export const EXIT_OK = 0
/** Exit status for a failure at run time (a refused request, a failed connection). */
export const EXIT_FAILURE = 1
/** Exit status for a usage or configuration error. */
export const EXIT_USAGE = 2

/**
 * Resolves once `signal` aborts (at once if it already has).
 *
 * @example
 * ```ts
 * await whenAborted(io.signal)
 * ```
 */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
