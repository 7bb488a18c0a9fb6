import { loadConfig } from '../../hub/index.js'
import { EXIT_OK, whenAborted } from '../cli-io.js'
import { runCluster } from '../cluster/run-cluster.js'
import { isClusterWorker, runClusterWorker } from '../cluster/run-cluster-worker.js'
import { formatConfigFlags } from '../config-help.js'
import { formatBanner } from '../format-banner.js'
import { defineCommand } from '../define-command.js'
import { startWorker } from '../start-worker.js'
import { createTextLogger } from '../stderr-logger.js'

/** One line for `herald --help`. */
export const summary = 'run the hub (and the demo pages in development mode)'

/** `herald serve --help`. */
export const help = `Usage: herald serve [--config herald.json] [settings]

Runs the hub at /.well-known/mercure: publish, subscribe, history, JWT auth, the subscriptions API, /healthz,
/readyz and /metrics. With demos on (the default in development mode) it also serves the demo pages at /.
SIGTERM or SIGINT drains: open streams are closed so that clients resume elsewhere with Last-Event-ID.

Settings come from defaults, then the config file (--config, HERALD_CONFIG, or ./herald.json), then HERALD_*
environment variables, then flags; each later source wins.

  --config <file>  a JSON config file with the settings below (camelCase keys)

Settings (flag, environment variable, meaning):
${formatConfigFlags()}
Examples:
  herald serve --mode development             try it locally: development key, anonymous subscribers, demos
  herald serve --port 8080 --history sqlite:/var/lib/herald/herald.db
  HERALD_PUBLISHER_JWT_KEY=… HERALD_SUBSCRIBER_JWT_KEY=… herald serve --workers 4
`

/**
 * `herald serve`: loads the configuration (exit 2 on errors), starts the hub (one process, or a primary and
 * `--workers` worker processes sharing the port), prints where it listens (and, in development mode, the
 * development key, a publisher token and a curl example), then serves until `io.signal` aborts and drains.
 *
 * @example
 * ```ts
 * const status = await run(['--mode', 'development', '--port', '0'], io)
 * ```
 */
export const run = defineCommand('serve', help, async (args, io) => {
  const loaded = loadConfig({ argv: args, env: io.env, cwd: io.cwd })
  if (isClusterWorker(io.env)) return runClusterWorker(loaded, io)
  if (loaded.config.workers > 1) return runCluster(args, loaded, io)

  const logger = createTextLogger(io.stderr)
  const worker = await startWorker({ config: loaded.config, logger, cwd: io.cwd })
  io.stdout.write(await formatBanner(loaded, worker.address.port))
  await whenAborted(io.signal)
  io.stderr.write(`herald: draining (up to ${loaded.config.drainTimeoutMs} ms)\n`)
  await worker.close()
  io.stderr.write('herald: stopped\n')
  return EXIT_OK
})
