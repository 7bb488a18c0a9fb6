// The Herald clock: every second the server pushes its time over SSE; the page shows each event with its id.
// Run `npm run build` first (this file imports the built package through its own exports), then
// `node examples/clock/server.mjs` (after `npm run build`).
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createChannel, createMemoryReplay } from 'herald-sse/server'
import { sse } from 'herald-sse/server/node'

const port = Number(process.env.PORT ?? 3000)
const page = await readFile(new URL('./index.html', import.meta.url))

// Five minutes of ticks are kept, so a browser that drops off for a while catches up when it reconnects.
const channel = createChannel({ replay: createMemoryReplay({ maxEvents: 300 }) })

let tick = 0
const timer = setInterval(() => {
  tick++
  channel.broadcast({ data: { time: new Date().toISOString(), tick } })
}, 1000)

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost')
  if (req.method === 'GET' && pathname === '/sse') {
    // retry: reconnect after one second instead of the browser's default three.
    channel.add(sse(req, res, { retry: 1000 }))
  } else if (req.method === 'GET' && pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': page.byteLength })
    res.end(page)
  } else {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('not found\n')
  }
})

server.listen(port, () => console.log(`Herald clock on http://localhost:${port}`))

function shutdown() {
  clearInterval(timer)
  channel.close()
  server.close(() => process.exit(0))
  server.closeAllConnections()
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
