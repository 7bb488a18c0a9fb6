import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_PROMPT_LENGTH, type TokenStreamer } from './token-streamer.js'

/** What the demo pages read from `/demo-config.json`. */
export interface DemoConfig {
  /** The hub's mode: the pages may publish only in development mode. */
  readonly mode: 'development' | 'production'
  /** The hub's path on this origin. */
  readonly hub: string
  /** A token that may publish to the demo topics (`chat`, `tasks`), development mode only; otherwise `null`. */
  readonly publisherToken: string | null
  /** Whether the server streams answers for the LLM-style demo (`POST /demo/generate`). */
  readonly generate: boolean
  /** How many worker processes serve the hub. */
  readonly workers: number
}

/** Options of {@link createDemoRoutes}. */
export interface DemoRoutesOptions {
  readonly config: DemoConfig
  /** Streams answers for `POST /demo/generate`; `null` turns the route off (production mode). */
  readonly streamer: TokenStreamer | null
}

/** The body of `POST /demo/generate`, at most. */
const MAX_GENERATE_BODY_BYTES = 4096
/** Topics the LLM-style demo may stream to: `llm/` and a short id. */
const GENERATE_TOPIC = /^llm\/[A-Za-z0-9_-]{1,64}$/

/**
 * The server side of the demos, next to the static pages:
 *
 * - `GET /demo-config.json` → {@link DemoConfig} (`Cache-Control: no-store`);
 * - `POST /demo/generate` with JSON `{"topic":"llm/<id>","prompt":"…"}` → `202 {"topic":…}` and the answer streamed
 *   token by token to that topic; `429` when too many answers are under way, `400` for a bad body, `415` unless the
 *   body is `application/json` (which also keeps other sites from posting without a CORS preflight), `404` in
 *   production mode.
 *
 * Resolves `false` for any other path.
 *
 * @example
 * ```ts
 * const demoRoutes = createDemoRoutes({ config, streamer })
 * if (await demoRoutes(req, res)) return
 * ```
 */
export function createDemoRoutes(options: DemoRoutesOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const configBody = JSON.stringify(options.config)
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/demo-config.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' }, { allow: 'GET, HEAD' })
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
      res.end(req.method === 'HEAD' ? undefined : configBody)
      return true
    }
    if (path !== '/demo/generate') return false
    const streamer = options.streamer
    if (streamer === null) return send(res, 404, { error: 'answers are streamed in development mode only' })
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' })
    if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      return send(res, 415, { error: 'send application/json' })
    }
    let body: unknown
    try {
      body = JSON.parse(await readBody(req, MAX_GENERATE_BODY_BYTES))
    } catch (error) {
      return send(res, 400, { error: (error as Error).message })
    }
    const { topic, prompt } = (typeof body === 'object' && body !== null ? body : {}) as { topic?: unknown; prompt?: unknown }
    if (typeof topic !== 'string' || !GENERATE_TOPIC.test(topic)) return send(res, 400, { error: 'topic must be llm/<id> (letters, digits, - and _)' })
    if (typeof prompt !== 'string' || prompt.length > MAX_PROMPT_LENGTH) {
      return send(res, 400, { error: `prompt must be a string of at most ${MAX_PROMPT_LENGTH} characters` })
    }
    if (!streamer.start(topic, prompt)) return send(res, 429, { error: 'too many answers under way; try again shortly' }, { 'retry-after': '1' })
    return send(res, 202, { topic })
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
  return true
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > maxBytes) throw new Error(`the body is larger than ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
