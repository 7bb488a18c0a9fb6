import { readFileSync } from 'node:fs'

/**
 * The version of the `herald-sse` package this command belongs to, read from its `package.json` (two levels above
 * this file, in `src/cli/` and in `dist/cli/` alike).
 *
 * @example
 * ```ts
 * io.stdout.write(`herald ${packageVersion()}\n`)
 * ```
 */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
  return (JSON.parse(text) as { version: string }).version
}
