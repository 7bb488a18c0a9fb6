/** System module: Herald's server library on node:http (`herald-server.ts`). */
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pubSubNodeSystem, startNodeServer } from '../harness/start-node-server.js'
import type { RunningSystem, SystemDefinition } from '../harness/system.js'

/**
 * Extra Node flags for the Herald processes under test, from `HERALD_BENCH_NODE_FLAGS` (space-separated),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the server during a run (Node refuses `--cpu-prof`
 * in `NODE_OPTIONS`). The profile is written when the process exits on SIGTERM.
 */
export function heraldNodeFlags(): string[] {
  return (process.env.HERALD_BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '')
}

/** Repository root (the build output sits in `bench/out/build/`, the sources in `bench/peers/`). */
export function heraldRoot(): string {
  let dir = resolve(import.meta.dirname)
  for (let i = 0; i < 6; i += 1) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'harness'))) return dir
    dir = resolve(dir, '..')
  }
  return resolve(import.meta.dirname, '..', '..', '..')
}

/** `herald-sse <version>` from the repository's package.json, or `null` when `dist/` is not built. */
export function heraldVersion(): string | null {
  const root = heraldRoot()
  if (!existsSync(join(root, 'dist', 'server', 'index.js')) || !existsSync(join(root, 'dist', 'cli', 'main.js'))) return null
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}

/** Herald's server library, one channel per topic, with the adapter's defaults or with Nagle's algorithm on. */
function defineHeraldServer(name: string, nagle: boolean): SystemDefinition {
  return {
    name,
    description: `Herald server library (herald-sse/server + /server/node) on node:http, a channel per topic${nagle ? ", noDelay: false (Nagle's algorithm on)" : ''}`,
    check() {
      return Promise.resolve(
        heraldVersion() === null ? { available: false, reason: 'dist/ is not built (npm run build)' } : { available: true },
      )
    },
    async start(options): Promise<RunningSystem> {
      const { service, port } = await startNodeServer(options, 'herald-server', {
        name,
        nodeFlags: heraldNodeFlags(),
        args: nagle ? ['--nagle'] : [],
      })
      const version = `herald-sse ${heraldVersion() ?? '?'} server on node ${process.version}${nagle ? ', Nagle on' : ''}`
      return pubSubNodeSystem(service, port, version, 'id')
    },
  }
}

/** Herald's server library with the adapter's defaults. One process: at most about 19,900 connections here. */
export const heraldServerSystem: SystemDefinition = defineHeraldServer('herald-server', false)

/** Herald's server library with `noDelay: false`: Nagle's algorithm merges the events of a burst in the kernel. */
export const heraldServerNagleSystem: SystemDefinition = defineHeraldServer('herald-server-nagle', true)
