/**
 * better-sse (npm) as a system under test, used the way its documentation shows: one `Channel` per topic,
 * a `Session` per subscriber registered on it, `channel.broadcast(data)` to publish. Its defaults are
 * kept (JSON-serialised data, `retry: 2000`, a keep-alive comment every 10 s per session).
 *
 *   GET  /sub/<topic>          → 200 text/event-stream (createSession), registered on the topic's channel
 *   POST /pub?topic=<topic>    → body is the event data; 200 "delivered N"
 *
 * Usage: node better-sse-server.js --host 127.0.0.1 --port 8080
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { createChannel, createSession, type Channel } from 'better-sse'

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } })

const channels = new Map<string, Channel>()

function channelFor(topic: string): Channel {
  let channel = channels.get(topic)
  if (!channel) {
    const created = createChannel()
    // Drop empty channels so the map stays bounded by the live topics.
    created.on('session-deregistered', () => {
      if (created.sessionCount === 0 && channels.get(topic) === created) channels.delete(topic)
    })
    channels.set(topic, created)
    channel = created
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
    createSession(req, res).then(
      (session) => channelFor(topic).register(session),
      () => res.destroy(),
    )
    return
  }
  if (req.method === 'POST' && url.pathname === '/pub') {
    const topic = url.searchParams.get('topic') ?? ''
    readBody(req).then(
      (data) => {
        const channel = channels.get(topic)
        channel?.broadcast(data)
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`delivered ${channel?.sessionCount ?? 0}\n`)
      },
      () => res.writeHead(400).end(),
    )
    return
  }
  res.writeHead(404).end()
})
server.listen(Number(values.port), values.host)
