/** System module: better-sse (`better-sse-server.ts`). */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pubSubNodeSystem, startNodeServer } from '../harness/start-node-server.js'
import type { RunningSystem, SystemDefinition } from '../harness/system.js'

function betterSseVersion(): string | null {
  try {
    const require = createRequire(import.meta.url)
    // The package does not export ./package.json; its entry lives in build/, one level below the manifest.
    const manifest = join(dirname(require.resolve('better-sse')), '..', 'package.json')
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}

/** better-sse on node:http, one channel per topic. One process: at most about 19,900 connections here. */
export const betterSseSystem: SystemDefinition = {
  name: 'better-sse',
  description: 'better-sse (npm) on node:http, a Channel per topic, library defaults',
  check() {
    return Promise.resolve(
      betterSseVersion() === null
        ? { available: false, reason: 'npm package better-sse is not installed (npm install better-sse)' }
        : { available: true },
    )
  },
  async start(options): Promise<RunningSystem> {
    const { service, port } = await startNodeServer(options, 'better-sse-server')
    return pubSubNodeSystem(service, port, `better-sse ${betterSseVersion() ?? '?'} on node ${process.version}`)
  },
}
