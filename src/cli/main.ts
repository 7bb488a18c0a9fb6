#!/usr/bin/env node
import { runCli } from './run-cli.js'

/** Exit status after a second SIGINT or SIGTERM cut a drain short (128 + SIGINT). */
const EXIT_INTERRUPTED = 130

// The `herald` executable: the only place that touches process signals and process.exit. The first SIGINT or
// SIGTERM asks the command to stop (serve drains); a second one exits at once.
const controller = new AbortController()
const onSignal = (): void => {
  if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED)
  controller.abort()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
})
// Let what was written reach the terminal or pipe, then exit even if a socket of fetch's pool is still open.
process.stdout.write('', () => process.exit(status))
