import { createParser, type ParsedEvent } from '../../protocol/index.js'
import { EXIT_OK } from '../cli-io.js'
import { CliError } from '../errors.js'
import { describeRefusal, hubUrl } from '../hub-url.js'
import { listFlag, optionalString, parseFlags, requiredString } from '../parse-flags.js'
import { defineCommand } from '../define-command.js'
import { sleep } from '../sleep.js'

/** One line for `herald --help`. */
export const summary = 'print the updates of topics as they arrive, one JSON object per line'

/** The wait before reconnecting when the hub sent no `retry`, in milliseconds. */
export const DEFAULT_RECONNECT_MS = 1000

/** `herald subscribe --help`. */
export const help = `Usage: herald subscribe --url <hub> --topic <selector> [--topic …] [--last-event-id <id>] [--token <jwt>]
                        [--count <n>] [--no-reconnect]

Subscribes to the hub and prints each update on stdout as one JSON object per line:
  {"id":"urn:uuid:…","type":"message","data":"…"}
When the stream breaks it reconnects with Last-Event-ID (after the hub's retry time, default ${DEFAULT_RECONNECT_MS} ms) and
goes on from the last update printed; it stops when the hub answers 204 or refuses the request (4xx).

  --url <url>             the hub: http://host:port (the hub path is added) or the full hub URL;
                          default $HERALD_URL, else http://localhost:3000
  --topic <selector>      a topic, a URI template or *; repeat for several
  --last-event-id <id>    resume after this update id (earliest: everything in history)
  --token <jwt>           a subscriber token (private updates); default $HERALD_TOKEN
  --count <n>             exit after printing n updates
  --no-reconnect          exit when the stream ends instead of reconnecting

Example:
  herald subscribe --topic 'https://example.com/books/{id}' --last-event-id earliest
`

const FLAGS = {
  url: { type: 'string' },
  topic: { type: 'string', multiple: true },
  'last-event-id': { type: 'string' },
  token: { type: 'string' },
  count: { type: 'string' },
  'no-reconnect': { type: 'boolean' },
} as const

/**
 * `herald subscribe`: streams updates from the hub to stdout over `fetch` and Herald's event-stream parser,
 * reconnecting with `Last-Event-ID`. Resolves 0 when `io.signal` aborts, `--count` updates were printed, the hub
 * answers 204, or the stream ends with `--no-reconnect`; 1 when the hub refuses the subscription.
 *
 * @example
 * ```ts
 * await run(['--url', url, '--topic', 'chat', '--count', '1'], io)
 * ```
 */
export const run = defineCommand('subscribe', help, async (args, io) => {
  const flags = parseFlags(args, FLAGS)
  const url = hubUrl(optionalString(flags, 'url') ?? io.env.HERALD_URL ?? 'http://localhost:3000')
  const topics = listFlag(flags, 'topic')
  if (topics.length === 0) requiredString(flags, 'topic')
  for (const topic of topics) url.searchParams.append('topic', topic)
  const token = optionalString(flags, 'token') ?? io.env.HERALD_TOKEN
  let count: number | undefined
  const rawCount = optionalString(flags, 'count')
  if (rawCount !== undefined) {
    if (!/^[1-9]\d*$/.test(rawCount)) throw new CliError('ERR_CLI_USAGE', `--count must be a positive whole number, not ${JSON.stringify(rawCount)}`)
    count = Number(rawCount)
  }
  const reconnect = flags['no-reconnect'] !== true
  let lastEventId = optionalString(flags, 'last-event-id')

  const abort = new AbortController()
  const onAbort = (): void => abort.abort()
  io.signal.addEventListener('abort', onAbort, { once: true })
  let printed = 0
  let retryMs = DEFAULT_RECONNECT_MS
  try {
    for (;;) {
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' }
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId
      let response: Response | undefined
      try {
        response = await fetch(url, { headers, signal: abort.signal })
      } catch (error) {
        if (abort.signal.aborted) return EXIT_OK
        if (!reconnect) throw new CliError('ERR_CLI_REQUEST_FAILED', `cannot reach ${url.origin}`, { cause: error })
        io.stderr.write(`herald subscribe: cannot reach ${url.origin} (${(error as Error).message}); retrying in ${retryMs} ms\n`)
      }
      if (response !== undefined) {
        if (response.status === 204) return EXIT_OK
        if (response.status !== 200 || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
          const refusal = `the hub refused the subscription: ${await describeRefusal(response)}`
          // 5xx (a draining or overloaded hub) invites a retry; 4xx does not.
          if (response.status < 500 || !reconnect) throw new CliError('ERR_CLI_STREAM_REFUSED', refusal)
          io.stderr.write(`herald subscribe: ${refusal}; retrying in ${retryMs} ms\n`)
        } else {
          const done = await readStream(response, abort.signal, (event) => {
            if (event.lastEventId !== '') lastEventId = event.lastEventId
            io.stdout.write(`${JSON.stringify({ id: event.id ?? null, type: event.type, data: event.data })}\n`)
            printed++
            if (count !== undefined && printed >= count) abort.abort()
          }, (ms) => (retryMs = ms))
          if (abort.signal.aborted) return EXIT_OK
          if (!reconnect) return EXIT_OK
          io.stderr.write(`herald subscribe: the stream ${done}; reconnecting in ${retryMs} ms${lastEventId === undefined ? '' : ` after ${lastEventId}`}\n`)
        }
      }
      await sleep(retryMs, abort.signal)
      if (abort.signal.aborted) return EXIT_OK
    }
  } finally {
    io.signal.removeEventListener('abort', onAbort)
    abort.abort()
  }
})

/** Feeds the body to the parser until it ends; resolves with how it ended. */
async function readStream(response: Response, signal: AbortSignal, onEvent: (event: ParsedEvent) => void, onRetry: (ms: number) => void): Promise<string> {
  const parser = createParser({ onEvent, onRetry })
  const body = response.body
  if (body === null) return 'had no body'
  const reader = body.getReader()
  const cancel = (): void => void reader.cancel().catch(() => undefined)
  signal.addEventListener('abort', cancel, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return 'ended'
      parser.feed(value)
      if (signal.aborted) return 'was closed'
    }
  } catch (error) {
    return `broke (${(error as Error).message})`
  } finally {
    signal.removeEventListener('abort', cancel)
  }
}
