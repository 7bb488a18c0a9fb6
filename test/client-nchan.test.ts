// The client against a server no one here wrote: nginx with the nchan module (Debian's `nginx` and
// `libnginx-mod-nchan`). The test writes its own nginx.conf into a temp dir, starts nginx on a free port as a child
// process, publishes with HTTP POST, subscribes with Herald's EventSource and fetchEventStream, resumes with
// Last-Event-ID, and stops nginx. Without nginx it is skipped with a notice, except in CI, where it fails.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventSource, fetchEventStream } from '../src/client/index.js'
import { logSource } from '../src/client/testing/source-log.js'

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))
const NCHAN = '/usr/lib/nginx/modules/ngx_nchan_module.so'
const available = NGINX !== undefined && existsSync(NCHAN)
const inCi = process.env.CI === 'true'

if (!available && !inCi) console.warn(`[client-nchan] skipped: nginx or ${NCHAN} is missing (apt-get install nginx libnginx-mod-nchan)`)

// Outside CI a missing service skips the tests below; in CI it fails here.
if (!available && inCi) {
  describe('nchan (required in CI)', () => {
    it('needs nginx and the nchan module', () => {
      expect.fail(`nginx or ${NCHAN} is missing; .ci/run installs them`)
    })
  })
}

describe.runIf(available)('against nchan', () => {
  let dir: string
  let nginx: ChildProcess | undefined
  let origin: string
  const sources: EventSource[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-nchan-'))
    const port = await freePort()
    writeFileSync(join(dir, 'nginx.conf'), config(dir, port))
    nginx = spawn(NGINX as string, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    nginx.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    origin = `http://127.0.0.1:${port}`
    await waitForPort(port, () => (nginx?.exitCode !== null ? `nginx exited: ${stderr}${readLog(dir)}` : undefined))
  })

  afterAll(async () => {
    for (const source of sources) source.close()
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx?.once('exit', resolve))
      nginx.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })

  function open(url: string, init?: ConstructorParameters<typeof EventSource>[1]): EventSource {
    const source = new EventSource(url, init)
    sources.push(source)
    return source
  }

  async function publish(channel: string, data: string): Promise<void> {
    const response = await fetch(`${origin}/pub/${channel}`, { method: 'POST', body: data })
    expect(response.status, await response.text()).toBeLessThan(300)
  }

  it('receives what was published, in order, with nchan ids, and resumes after the last id', async () => {
    await publish('history', 'one')
    await publish('history', 'two\nlines')
    await publish('history', 'three')
    const first = open(`${origin}/sub/history`)
    const log = logSource(first)
    await log.until((lines) => lines.length === 4)
    expect(log.messages.map((m) => m.data as string)).toEqual(['one', 'two\nlines', 'three'])
    for (const m of log.messages) expect(m.lastEventId).toMatch(/^\d+:\d+$/)
    expect(log.messages[0]?.origin).toBe(origin)
    const lastId = first.lastEventId
    first.close()

    await publish('history', 'four')
    await publish('history', 'five')
    const resumed = open(`${origin}/sub/history`, { lastEventId: lastId })
    const resumedLog = logSource(resumed)
    await resumedLog.until((lines) => lines.length === 3)
    expect(resumedLog.messages.map((m) => m.data as string)).toEqual(['four', 'five'])
  })

  it('gets live messages, and loses none when nchan ends the stream and the client reconnects', async () => {
    // /sub-short/ closes each subscriber after one second; the client reconnects with Last-Event-ID.
    const source = open(`${origin}/sub-short/live`, { backoff: { initialMs: 200 } })
    const log = logSource(source)
    await log.waitFor('open')
    await publish('live', 'a')
    await log.waitFor('message a *')
    await log.waitFor('error ERR_CLIENT_STREAM_ENDED 0', 4000)
    // Published while the client waits to reconnect.
    await publish('live', 'b')
    await log.waitFor('message b *')
    await publish('live', 'c')
    await log.waitFor('message c *')
    expect(log.messages.map((m) => m.data as string)).toEqual(['a', 'b', 'c'])
  })

  it('fetchEventStream reads a stream nchan ends, and continues from an id', async () => {
    await publish('oneshot', 'x')
    await publish('oneshot', 'y')
    const all: { data: string; id: string }[] = []
    for await (const event of fetchEventStream(`${origin}/sub-short/oneshot`)) all.push({ data: event.data, id: event.lastEventId })
    expect(all.map((e) => e.data)).toEqual(['x', 'y'])
    const rest: string[] = []
    await publish('oneshot', 'z')
    for await (const event of fetchEventStream(`${origin}/sub-short/oneshot`, { lastEventId: all[0]?.id ?? '' })) rest.push(event.data)
    expect(rest).toEqual(['y', 'z'])
  })

  it('fails for good on an nchan location that does not serve an event stream', async () => {
    const source = open(`${origin}/pub/refused`)
    const log = logSource(source)
    await log.waitFor('error*')
    // The publisher location answers a GET with channel info, not an event stream.
    expect(log.lines.at(-1)).toMatch(/^error ERR_CLIENT_(CONTENT_TYPE|HTTP_STATUS) 2$/)
  })
})

function config(dir: string, port: number): string {
  return `
load_module ${NCHAN};
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${port};
    location ~ ^/pub/(\\w+)$ {
      nchan_publisher;
      nchan_channel_id $1;
      nchan_message_buffer_length 100;
      nchan_message_timeout 5m;
    }
    location ~ ^/sub/(\\w+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id $1;
    }
    location ~ ^/sub-short/(\\w+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id $1;
      nchan_subscriber_timeout 1s;
    }
  }
}
`
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8')
  } catch {
    return ''
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function waitForPort(port: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const problem = failed()
    if (problem !== undefined) throw new Error(problem)
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
