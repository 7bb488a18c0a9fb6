/** System module: pushpin (Debian package) with its zurl, in front of a small GRIP origin in Node. */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startChildService, type ChildService } from '../harness/child-service.js'
import { readFdLimit } from '../harness/fd-limit.js'
import { findFreePort } from '../harness/free-port.js'
import { startNodeServer } from '../harness/start-node-server.js'
import type { RunningSystem, SystemDefinition } from '../harness/system.js'
import { waitForPort } from '../harness/wait-for-port.js'
import { debianPackageVersion, ensureDebianPackages } from './debian-packages.js'
import { renderPushpinConfig, renderPushpinRoutes } from './pushpin-config.js'

/**
 * Subscribe attempts in flight at once. Above this, pushpin 1.36 loses streams during the connect burst: its
 * handler logs `zhttp server: error … received message out of sequence, canceling` and the stream stays
 * open but never receives anything (1 in 1,000 at 32 in flight, 3 % at 64, measured here; 200+ in flight
 * also gets `502 Error while proxying to origin`).
 */
const PUSHPIN_CONNECT_CONCURRENCY = 16
/** condure holds every client connection in one process, under the open-files limit. */
const PUSHPIN_MAX_CONNECTIONS = 19_500

/**
 * pushpin: the runner starts condure (client HTTP), pushpin-proxy, pushpin-handler and zurl; the GRIP
 * origin (`pushpin-origin.ts`) answers subscribe requests with `Grip-Hold: stream`. Messages are
 * published to the handler's HTTP API as GRIP JSON items with an `http-stream` format.
 */
export const pushpinSystem: SystemDefinition = {
  name: 'pushpin',
  description: 'pushpin (condure + zurl) with a Node GRIP origin, HTTP publish API',
  check(log) {
    return ensureDebianPackages(['pushpin', 'zurl', 'condure'], log)
  },
  async start(options): Promise<RunningSystem> {
    const dir = options.workDir
    const runDir = join(dir, 'run')
    const logDir = join(dir, 'log')
    mkdirSync(runDir, { recursive: true })
    mkdirSync(logDir, { recursive: true })
    const origin = await startNodeServer(options, 'pushpin-origin')
    let runner: ChildService | null = null
    try {
      const httpPort = await findFreePort()
      const publishPort = await findFreePort()
      const routesFile = join(dir, 'routes')
      const confPath = join(dir, 'pushpin.conf')
      writeFileSync(routesFile, renderPushpinRoutes(origin.port))
      writeFileSync(
        confPath,
        renderPushpinConfig({
          runDir,
          logDir,
          routesFile,
          httpPort,
          publishPort,
          maxConnections: Math.min(PUSHPIN_MAX_CONNECTIONS + 300, readFdLimit().hard - 200),
          signingKey: randomBytes(16).toString('hex'),
        }),
      )
      const started = await startChildService({
        name: 'pushpin',
        command: 'pushpin',
        args: ['--config', confPath, '--merge-output'],
        logFile: join(dir, 'pushpin.log'),
      })
      runner = started
      const stillStarting = (): boolean => started.isRunning()
      await waitForPort('127.0.0.1', httpPort, { timeoutMs: 30_000, stillStarting })
      await waitForPort('127.0.0.1', publishPort, { timeoutMs: 30_000, stillStarting })
      options.log(`pushpin: runner ${started.pid}, origin ${origin.service.pid}, 127.0.0.1:${httpPort} (publish :${publishPort})`)
      const version = /(\d+\.\d+\.\d+)/.exec(spawnSync('pushpin', ['--version'], { encoding: 'utf8' }).stdout)?.[1]
      return {
        version: `pushpin ${version ?? debianPackageVersion('pushpin') ?? '?'} (zurl ${debianPackageVersion('zurl') ?? '?'})`,
        subscribeUrl: (topic) => `http://127.0.0.1:${httpPort}/sub/${encodeURIComponent(topic)}`,
        publish: {
          host: '127.0.0.1',
          port: publishPort,
          request: (topic, data) => ({
            method: 'POST',
            path: '/publish/',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({
              items: [{ channel: topic, formats: { 'http-stream': { content: `data: ${data}\n\n` } } }],
            }),
          }),
        },
        pids: () => [started.pid, origin.service.pid],
        limits: { maxConnectConcurrency: PUSHPIN_CONNECT_CONCURRENCY, maxConnections: PUSHPIN_MAX_CONNECTIONS },
        stop: async () => {
          await started.stop() // the runner stops condure, zurl, proxy and handler
          await origin.service.stop()
        },
      }
    } catch (error) {
      const tail = runner?.logTail() ?? ''
      await runner?.stop()
      await origin.service.stop()
      throw new Error(`pushpin: ${(error as Error).message}${tail ? `\n${tail}` : ''}`)
    }
  },
}
