/**
 * Herald's server library as a system under test, used the way its README shows: one `Channel` per topic
 * (`createChannel()` from `herald-sse/server`, no replay history), a session per subscriber opened with the
 * node:http adapter (`sse()` from `herald-sse/server/node`), `channel.broadcast({ data })` to publish: the
 * event is encoded once and the same bytes go to every session. Library defaults otherwise (keep-alive
 * comment after 15 s of silence from one shared timer, bounded per-session queue).
 *
 *   GET  /sub/<topic>          → 200 text/event-stream, registered on the topic's channel
 *   POST /pub?id=<topic>       → body is the event data (raw string); 200 "delivered N"
 *                                (`?topic=` is accepted too, like the other Node peers)
 *
 * Usage: node herald-server.js --host 127.0.0.1 --port 8080 [--nagle]
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { createChannel, type Channel } from 'herald-sse/server'
import { sse } from 'herald-sse/server/node'

const { values } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, nagle: { type: 'boolean', default: false } },
})
// `--nagle`: the adapter's `noDelay: false` (Nagle's algorithm on), the throughput setting.
const sessionOptions = { noDelay: !values.nagle }

const channels = new Map<string, Channel<{ message: string }>>()

function channelFor(topic: string): Channel<{ message: string }> {
  let channel = channels.get(topic)
  if (!channel) {
    channel = createChannel<{ message: string }>({ replay: null })
    channels.set(topic, channel)
  }
  return channel
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (req.method === 'GET' && url.pathname.startsWith('/sub/')) {
    const topic = decodeURIComponent(url.pathname.slice('/sub/'.length))
    const channel = channelFor(topic)
    const session = sse<{ message: string }>(req, res, sessionOptions)
    channel.add(session)
    // Drop empty channels so the map stays bounded by the live topics (after the channel's own abort
    // listener has removed the session).
    session.signal.addEventListener('abort', () => {
      queueMicrotask(() => {
        if (channel.size === 0 && channels.get(topic) === channel) {
          channels.delete(topic)
          channel.close()
        }
      })
    })
    return
  }
  if (req.method === 'POST' && url.pathname === '/pub') {
    const topic = url.searchParams.get('id') ?? url.searchParams.get('topic') ?? ''
    readBody(req).then(
      (data) => {
        const channel = channels.get(topic)
        const delivered = channel ? channel.broadcast({ data }).delivered : 0
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`delivered ${delivered}\n`)
      },
      () => res.writeHead(400).end(),
    )
    return
  }
  res.writeHead(404).end()
})
server.listen(Number(values.port), values.host)
// Exit normally on SIGTERM (the harness's stop), so that a `--cpu-prof` profile gets written.
process.once('SIGTERM', () => process.exit(0))
