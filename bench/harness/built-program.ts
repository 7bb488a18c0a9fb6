/**
 * Paths of the harness's compiled programs. `run.mjs` bundles every program (the CLI, the load worker,
 * the Node servers under test) into one build directory, so a program finds its siblings next to itself.
 */
import { join } from 'node:path'

/**
 * Path of the compiled program `name` (an entry of `run.mjs`) in `buildDir`.
 *
 * @example
 * builtProgramPath(options.buildDir, 'naive-server') // …/bench/out/build/naive-server.mjs
 */
export function builtProgramPath(buildDir: string, name: string): string {
  return join(buildDir, `${name}.mjs`)
}
