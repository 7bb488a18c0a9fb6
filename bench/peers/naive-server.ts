/**
 * The naive baseline: what a first SSE server in Node looks like. A map from topic to a Set of open
 * responses; a publish writes the event to each response in a loop, ignoring backpressure (the point of
 * the baseline: no queue bound, no coalescing, no keep-alive).
 *
 *   GET  /sub/<topic>          → 200 text/event-stream, stays open
 *   POST /pub?topic=<topic>    → body is the event data; 200 "delivered N"
 *
 * Usage: node naive-server.js --host 127.0.0.1 --port 8080
 */
import http from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } })

const topics = new Map<string, Set<http.ServerResponse>>()

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
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
    res.write(': ok\n\n')
    let subscribers = topics.get(topic)
    if (!subscribers) topics.set(topic, (subscribers = new Set()))
    subscribers.add(res)
    res.on('close', () => {
      subscribers.delete(res)
      if (subscribers.size === 0 && topics.get(topic) === subscribers) topics.delete(topic)
    })
    return
  }
  if (req.method === 'POST' && url.pathname === '/pub') {
    const topic = url.searchParams.get('topic') ?? ''
    readBody(req).then(
      (data) => {
        const event = `${data
          .split('\n')
          .map((line) => `data: ${line}`)
          .join('\n')}\n\n`
        const subscribers = topics.get(topic) ?? new Set()
        for (const subscriber of subscribers) subscriber.write(event)
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`delivered ${subscribers.size}\n`)
      },
      () => res.writeHead(400).end(),
    )
    return
  }
  res.writeHead(404).end()
})
server.listen(Number(values.port), values.host)
