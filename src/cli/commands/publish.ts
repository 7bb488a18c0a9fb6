import { EXIT_OK } from '../cli-io.js'
import { CliError } from '../errors.js'
import { describeRefusal, hubUrl } from '../hub-url.js'
import { listFlag, optionalString, parseFlags, requiredString } from '../parse-flags.js'
import { defineCommand } from '../define-command.js'

/** One line for `herald --help`. */
export const summary = 'publish one update to a hub and print its id'

/** `herald publish --help`. */
export const help = `Usage: herald publish --url <hub> --token <jwt> --topic <topic> [--topic …] [--data <text>]
                      [--private] [--id <id>] [--type <event type>] [--retry <ms>]

Posts one update to the hub (Mercure publish form) and prints the id the hub gave it.

  --url <url>       the hub: http://host:port (the hub path is added) or the full hub URL;
                    default $HERALD_URL, else http://localhost:3000
  --token <jwt>     a publisher token whose mercure.publish claim matches every topic; default $HERALD_TOKEN
  --topic <topic>   the topic; repeat for alternate topics (the first is canonical)
  --data <text>     the payload (default: empty)
  --private         deliver only to subscribers whose token allows one of the topics
  --id <id>         the update's id (default: a urn:uuid the hub generates)
  --type <type>     the SSE event type (default: message)
  --retry <ms>      the reconnection time sent with the update

Example:
  herald publish --token "$TOKEN" --topic https://example.com/books/1 --data '{"title":"Dune"}'
`

const FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  topic: { type: 'string', multiple: true },
  data: { type: 'string' },
  private: { type: 'boolean' },
  id: { type: 'string' },
  type: { type: 'string' },
  retry: { type: 'string' },
} as const

/**
 * `herald publish`: posts one update and prints its id on stdout. Exit 1 when the hub refuses it (the status and the
 * problem's code are printed), 2 for bad arguments.
 *
 * @example
 * ```ts
 * await run(['--url', url, '--token', token, '--topic', 'chat', '--data', 'hi'], io)
 * ```
 */
export const run = defineCommand('publish', help, async (args, io) => {
  const flags = parseFlags(args, FLAGS)
  const url = hubUrl(optionalString(flags, 'url') ?? io.env.HERALD_URL ?? 'http://localhost:3000')
  const token = optionalString(flags, 'token') ?? io.env.HERALD_TOKEN
  const topics = listFlag(flags, 'topic')
  if (topics.length === 0) requiredString(flags, 'topic')
  const body = new URLSearchParams()
  for (const topic of topics) body.append('topic', topic)
  body.set('data', optionalString(flags, 'data') ?? '')
  if (flags.private === true) body.set('private', 'on')
  for (const name of ['id', 'type', 'retry'] as const) {
    const value = optionalString(flags, name)
    if (value !== undefined) body.set(name, value)
  }
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token !== undefined && token !== '' && { authorization: `Bearer ${token}` }) },
      body,
      signal: io.signal,
    })
  } catch (error) {
    throw new CliError('ERR_CLI_REQUEST_FAILED', `cannot reach ${url.href}`, { cause: error })
  }
  if (response.status !== 200) throw new CliError('ERR_CLI_REQUEST_FAILED', `the hub refused the update: ${await describeRefusal(response)}`)
  io.stdout.write(`${await response.text()}\n`)
  return EXIT_OK
})
