/**
 * The GRIP origin behind pushpin. Pushpin proxies every subscribe request here; the answer tells pushpin
 * to hold the response open as a stream subscribed to the topic's channel (`Grip-Hold: stream`,
 * `Grip-Channel`). Publishing goes straight to pushpin's HTTP publish API, not through this server.
 *
 *   GET /sub/<topic>   → 200 text/event-stream, Grip-Hold: stream, Grip-Channel: <topic>
 *
 * Usage: node pushpin-origin.js --host 127.0.0.1 --port 8080
 * @see https://pushpin.org/docs/protocols/grip/
 */
import http from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } })

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (req.method === 'GET' && url.pathname.startsWith('/sub/')) {
    const topic = decodeURIComponent(url.pathname.slice('/sub/'.length))
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      'Grip-Hold': 'stream',
      'Grip-Channel': topic,
      // Pushpin sends this comment on idle streams every 30 s.
      'Grip-Keep-Alive': ':\\n\\n; format=cstring; timeout=30',
    })
    res.end(': ok\n\n')
    return
  }
  res.writeHead(404).end()
})
server.listen(Number(values.port), values.host)
