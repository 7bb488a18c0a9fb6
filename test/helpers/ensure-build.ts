import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** The repository root. */
export const ROOT = join(import.meta.dirname, '..', '..')

/**
 * Makes sure `dist/` holds the given built files, for tests that run programs importing the package through its
 * own exports (examples, the CLI). `npm test` builds first; a lone `vitest run` builds here when a file is missing.
 *
 * @example
 * ```ts
 * beforeAll(() => ensureBuild(['dist/server/index.js']), 120_000)
 * ```
 */
export async function ensureBuild(files: readonly string[]): Promise<void> {
  if (files.every((file) => existsSync(join(ROOT, file)))) return
  // tsc emits even when a file elsewhere has type errors; only the files we need matter here.
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
  }).catch(() => undefined)
  const missing = files.filter((file) => !existsSync(join(ROOT, file)))
  if (missing.length > 0) throw new Error(`the build did not produce ${missing.join(', ')}`)
}
