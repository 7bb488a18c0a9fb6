/** System module: nchan (Debian nginx + libnginx-mod-nchan) from a generated nginx.conf. */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { startChildService } from '../harness/child-service.js'
import { readFdLimit } from '../harness/fd-limit.js'
import { findFreePort } from '../harness/free-port.js'
import type { RunningSystem, SystemDefinition } from '../harness/system.js'
import { waitForPort } from '../harness/wait-for-port.js'
import { debianPackageVersion, ensureDebianPackages } from './debian-packages.js'
import { NCHAN_MODULE_PATH, renderNginxConfig } from './nginx-config.js'

/** Descriptors each nginx worker keeps for itself (listen socket, logs, shared memory, …). */
const WORKER_FD_RESERVE = 100
/** Connections per worker are planned at this share of worker_connections: reuseport spreads by hash. */
const WORKER_FILL = 0.75

function nginxVersion(): string {
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' })
  return /nginx\/(\S+)/.exec(`${result.stderr}${result.stdout}`)?.[1] ?? '?'
}

/**
 * nchan: nginx with the nchan module, `worker_processes` = max(cores, what the expected connections need),
 * `worker_rlimit_nofile` = the hard open-files limit and `worker_connections` just below it.
 */
export const nchanSystem: SystemDefinition = {
  name: 'nchan',
  description: 'nchan (nginx module) from a generated nginx.conf, EventSource subscriber',
  async check(log) {
    const packages = await ensureDebianPackages(['nginx', 'libnginx-mod-nchan'], log)
    if (!packages.available) return packages
    if (!existsSync(NCHAN_MODULE_PATH)) return { available: false, reason: `${NCHAN_MODULE_PATH} not found` }
    return { available: true }
  },
  async start(options): Promise<RunningSystem> {
    const dir = options.workDir
    mkdirSync(join(dir, 'tmp'), { recursive: true })
    const port = await findFreePort()
    const rlimit = Math.min(readFdLimit().hard, 1_048_576)
    const workerConnections = rlimit - WORKER_FD_RESERVE
    const workerProcesses = Math.max(
      cpus().length,
      Math.ceil(options.expectedConnections / (workerConnections * WORKER_FILL)),
    )
    const confPath = join(dir, 'nginx.conf')
    writeFileSync(
      confPath,
      renderNginxConfig({ dir, port, workerProcesses, workerRlimitNofile: rlimit, workerConnections }),
    )
    const args = ['-p', `${dir}/`, '-c', confPath, '-e', join(dir, 'error.log')]
    const test = spawnSync('nginx', ['-t', '-q', ...args], { encoding: 'utf8' })
    if (test.status !== 0) throw new Error(`nginx -t failed:\n${test.stderr}${test.stdout}`)

    const nginx = await startChildService({ name: 'nginx', command: 'nginx', args, logFile: join(dir, 'nginx.log') })
    try {
      await waitForPort('127.0.0.1', port, { timeoutMs: 15_000, stillStarting: () => nginx.isRunning() })
    } catch (error) {
      await nginx.stop()
      throw new Error(`nchan: ${(error as Error).message}\n${nginx.logTail()}`)
    }
    options.log(`nchan: nginx master ${nginx.pid}, ${workerProcesses} workers × ${workerConnections} connections, 127.0.0.1:${port}`)
    return {
      version: `nginx ${nginxVersion()} + nchan ${debianPackageVersion('libnginx-mod-nchan') ?? '?'}`,
      subscribeUrl: (topic) => `http://127.0.0.1:${port}/sub/${encodeURIComponent(topic)}`,
      publish: {
        host: '127.0.0.1',
        port,
        request: (topic, data) => ({
          method: 'POST',
          path: `/pub?topic=${encodeURIComponent(topic)}`,
          headers: { 'Content-Type': 'text/plain' },
          body: data,
        }),
      },
      pids: () => [nginx.pid],
      stop: async () => {
        await nginx.stop() // SIGTERM: nginx's fast shutdown closes every stream
      },
    }
  },
}
