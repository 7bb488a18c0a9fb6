/**
 * Starts one of the harness's compiled Node server programs on a free loopback port: the shared start-up
 * of the naive and better-sse systems (and of any other system that is a Node program).
 */
import { join } from 'node:path'
import { builtProgramPath } from './built-program.js'
import { startChildService, type ChildService } from './child-service.js'
import { findFreePort } from './free-port.js'
import type { RunningSystem, SystemStartOptions } from './system.js'
import { waitForPort } from './wait-for-port.js'

/** Time allowed for a Node server to listen. @defaultValue 15,000 ms */
export const NODE_SERVER_START_TIMEOUT_MS = 15_000

/** Options of {@link startNodeServer}. */
export interface NodeServerOptions {
  /** Arguments after `--host` and `--port`. @defaultValue none */
  readonly args?: readonly string[]
  /** Node flags before the program (for example `--cpu-prof`). @defaultValue none */
  readonly nodeFlags?: readonly string[]
  /** The service's name in logs and errors, and its log file's. @defaultValue the program's name */
  readonly name?: string
}

/**
 * Runs `node [flags] <buildDir>/<program>.js --host 127.0.0.1 --port <free port> [args]` and waits until it listens.
 *
 * @example
 * const { service, port } = await startNodeServer(options, 'naive-server')
 */
export async function startNodeServer(
  options: SystemStartOptions,
  program: string,
  server: NodeServerOptions = {},
): Promise<{ service: ChildService; port: number }> {
  const port = await findFreePort()
  const name = server.name ?? program
  const service = await startChildService({
    name,
    command: process.execPath,
    args: [...(server.nodeFlags ?? []), builtProgramPath(options.buildDir, program), '--host', '127.0.0.1', '--port', String(port), ...(server.args ?? [])],
    logFile: join(options.workDir, `${name}.log`),
  })
  try {
    await waitForPort('127.0.0.1', port, { timeoutMs: NODE_SERVER_START_TIMEOUT_MS, stillStarting: () => service.isRunning() })
  } catch (error) {
    await service.stop()
    throw new Error(`${name}: ${(error as Error).message}\n${service.logTail()}`)
  }
  return { service, port }
}

/**
 * The running system of a Node server program that subscribes with `GET /sub/{topic}` and publishes the raw body of
 * `POST /pub?{topicParam}={topic}` (the naive, better-sse and Herald server programs): one process, so at most
 * about 19,500 connections here.
 */
export function pubSubNodeSystem(service: ChildService, port: number, version: string, topicParam = 'topic'): RunningSystem {
  return {
    version,
    subscribeUrl: (topic) => `http://127.0.0.1:${port}/sub/${encodeURIComponent(topic)}`,
    publish: {
      host: '127.0.0.1',
      port,
      request: (topic, data) => ({
        method: 'POST',
        path: `/pub?${topicParam}=${encodeURIComponent(topic)}`,
        headers: { 'Content-Type': 'text/plain' },
        body: data,
      }),
    },
    pids: () => [service.pid],
    limits: { maxConnections: 19_500 },
    stop: async () => {
      await service.stop()
    },
  }
}
