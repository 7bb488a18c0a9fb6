/** System module: the naive Node server (`naive-server.ts`). */
import { pubSubNodeSystem, startNodeServer } from '../harness/start-node-server.js'
import type { RunningSystem, SystemDefinition } from '../harness/system.js'

/**
 * A Node `http` server with a map from topic to a Set of responses, written to in a loop. The floor any
 * SSE server should beat. One process, so it holds at most about 19,900 connections here.
 */
export const naiveSystem: SystemDefinition = {
  name: 'naive',
  description: `naive Node ${process.version} server: Map<topic, Set<res>>, write in a loop`,
  check() {
    return Promise.resolve({ available: true })
  },
  async start(options): Promise<RunningSystem> {
    const { service, port } = await startNodeServer(options, 'naive-server')
    return pubSubNodeSystem(service, port, `node ${process.version} http (naive)`)
  },
}
