import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEVELOPMENT_JWT_KEY } from '../src/hub/index.js'
import { cleanEnv, ensureBuilt, runHerald, spawnHerald, startServe, tempDir, type HeraldProcess } from './cli-process.js'
import { getFreePort } from './helpers/free-port.js'
import { openEventStream } from './helpers/event-stream-client.js'

const SECRET = 'a-test-secret-of-at-least-32-bytes!!'
const dir = tempDir()
const running: HeraldProcess[] = []

beforeAll(ensureBuilt, 180_000)
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')))
})
afterAll(() => dir.cleanup())

function track<T extends HeraldProcess>(process: T): T {
  running.push(process)
  return process
}

/** GET with the path sent exactly as written (fetch would normalise `..`). */
function rawGet(base: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base)
    // Options, not a URL: the path goes on the wire exactly as written.
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }))
    })
    req.once('error', reject)
    req.end()
  })
}

describe('herald serve --mode development', () => {
  it('keeps history in ./herald.db, prints the development key, a working token and curl commands', async () => {
    const cwd = tempDir()
    try {
      const server = track(await startServe(['--mode', 'development'], { cwd: cwd.path }))
      expect(existsSync(join(cwd.path, 'herald.db'))).toBe(true)
      await server.waitForStdout(/curl -d topic=greetings/)
      expect(server.stdout).toContain(`development key: ${DEVELOPMENT_JWT_KEY}`)
      expect(server.stdout).toContain(`demos:    ${server.url}/`)
      expect(server.stdout).toContain('history:  sqlite:./herald.db')
      const token = /publisher token: (\S+)/.exec(server.stdout)![1]!
      expect(decodeJwt(token).mercure).toEqual({ publish: ['*'], subscribe: ['*'] })
      expect(server.stdout).toContain(`curl -N '${server.hubUrl}?topic=greetings'`)

      // The printed token publishes; `herald subscribe` prints what arrives, one JSON object per line.
      const subscriber = track(spawnHerald(['subscribe', '--url', server.url, '--topic', 'greetings', '--count', '2']))
      await waitForSubscriber(server.hubUrl, 'greetings')
      const first = await runHerald(['publish', '--url', server.url, '--token', token, '--topic', 'greetings', '--data', 'hello'])
      expect(first.status).toBe(0)
      const id = first.stdout.trim()
      expect(id).toMatch(/^urn:uuid:/)
      const second = await runHerald(['publish', '--url', server.hubUrl, '--token', token, '--topic', 'greetings', '--data', 'line one\nline two', '--type', 'note', '--id', 'greeting-2'])
      expect(second.stdout).toBe('greeting-2\n')
      expect(await subscriber.exited).toEqual({ code: 0, signal: null })
      expect(subscriber.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
        { id, type: 'message', data: 'hello' },
        { id: 'greeting-2', type: 'note', data: 'line one\nline two' },
      ])
    } finally {
      cwd.cleanup()
    }
  })

  it('serves the demos at / with their content types, the demo config, and nothing outside web/', async () => {
    const server = track(await startServe(['--mode', 'development', '--history', `sqlite:${join(dir.path, 'demos.db')}`]))
    const index = await fetch(`${server.url}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(await index.text()).toContain('Herald demos')
    for (const [path, type] of [['/chat.html', 'text/html'], ['/demo.js', 'text/javascript'], ['/style.css', 'text/css']] as const) {
      const response = await fetch(`${server.url}${path}`)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-type'), path).toContain(type)
    }
    const cached = await fetch(`${server.url}/style.css`)
    const revalidated = await fetch(`${server.url}/style.css`, { headers: { 'if-none-match': cached.headers.get('etag')! } })
    expect(revalidated.status).toBe(304)

    const config = (await (await fetch(`${server.url}/demo-config.json`)).json()) as { mode: string; publisherToken: string; hub: string; generate: boolean }
    expect(config).toMatchObject({ mode: 'development', hub: '/.well-known/mercure', generate: true })
    // The pages' token publishes to the demo topics only.
    expect(decodeJwt(config.publisherToken).mercure).toEqual({ publish: ['chat', 'tasks'] })

    for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/package.json', '/web/../package.json', '/.gitignore', '/index.html%00.js', '/%5c..%5cpackage.json', '/README.md']) {
      const response = await rawGet(server.url, path)
      expect(response.status, path).toBe(404)
      expect(response.body, path).not.toContain('"name": "herald-sse"')
    }
  })

  it('drains on SIGTERM: open streams are closed, the process exits 0', async () => {
    const server = track(await startServe(['--mode', 'development', '--no-demos', '--history', `sqlite:${join(dir.path, 'drain.db')}`]))
    const stream = await openEventStream(`${server.hubUrl}?topic=a`)
    expect(stream.status).toBe(200)
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    await stream.done
    expect(server.stderr).toContain('herald: draining')
    expect(server.stderr).toContain('herald: stopped')
  })

  it('stops on SIGINT too', async () => {
    const server = track(await startServe(['--mode', 'development', '--no-demos', '--history', 'memory']))
    expect(await server.stop('SIGINT')).toEqual({ code: 0, signal: null })
  })
})

describe('herald serve --mode production', () => {
  it('serves no demos, and takes tokens signed with its own keys', async () => {
    const server = track(await startServe(['--history', `sqlite:${join(dir.path, 'production.db')}`], { env: cleanEnv({ HERALD_PUBLISHER_JWT_KEY: SECRET, HERALD_SUBSCRIBER_JWT_KEY: SECRET }) }))
    expect(server.stdout).toContain('(production mode)')
    expect(server.stdout).not.toContain('publisher token')
    expect((await fetch(`${server.url}/`)).status).toBe(404)
    expect((await fetch(`${server.url}/demo-config.json`)).status).toBe(404)

    const token = (await runHerald(['gen-token', '--key', SECRET, '--publish', 'orders/{id}'])).stdout.trim()
    const published = await runHerald(['publish', '--url', server.url, '--token', token, '--topic', 'orders/1', '--data', '{}', '--private'])
    expect(published.status).toBe(0)
    // Anonymous subscribers are refused in production mode.
    const anonymous = await runHerald(['subscribe', '--url', server.url, '--topic', 'orders/1'])
    expect(anonymous.status).toBe(1)
    expect(anonymous.stderr).toMatch(/ERR_CLI_STREAM_REFUSED.*401 ERR_HUB_AUTH_TOKEN_MISSING/)
    // A subscriber token sees the private update from history.
    const reader = (await runHerald(['gen-token', '--key', SECRET, '--subscribe', 'orders/{id}'])).stdout.trim()
    const read = await runHerald(['subscribe', '--url', server.url, '--topic', 'orders/{id}', '--token', reader, '--last-event-id', 'earliest', '--count', '1'])
    expect(read.status).toBe(0)
    expect(JSON.parse(read.stdout)).toMatchObject({ data: '{}' })
  })
})

describe('herald publish and subscribe against a hub', () => {
  it('publish exits 1 with the hub\'s problem code when refused, and when the hub is unreachable', async () => {
    const server = track(await startServe(['--mode', 'development', '--no-demos', '--history', 'memory']))
    const refused = await runHerald(['publish', '--url', server.url, '--token', 'not.a.jwt', '--topic', 'a', '--data', 'x'])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('ERR_CLI_REQUEST_FAILED')
    expect(refused.stderr).toContain('401 ERR_HUB_AUTH_TOKEN_MALFORMED')
    const port = await getFreePort()
    const unreachable = await runHerald(['publish', '--url', `http://127.0.0.1:${port}`, '--topic', 'a'])
    expect(unreachable.status).toBe(1)
    expect(unreachable.stderr).toContain('ERR_CLI_REQUEST_FAILED')
    const missing = await runHerald(['publish', '--url', server.url])
    expect(missing.status).toBe(2)
    expect(missing.stderr).toContain('--topic is required')
  })

  it('subscribe reconnects with Last-Event-ID across a hub restart and prints every update once, in order', async () => {
    const port = await getFreePort()
    const history = `sqlite:${join(dir.path, 'restart.db')}`
    const args = ['--mode', 'development', '--no-demos', '--history', history]
    const token = (await runHerald(['gen-token', '--key', DEVELOPMENT_JWT_KEY, '--publish', '*'])).stdout.trim()
    const publish = async (url: string, data: string): Promise<string> => {
      const result = await runHerald(['publish', '--url', url, '--token', token, '--topic', 'jobs', '--data', data])
      expect(result.status, result.stderr).toBe(0)
      return result.stdout.trim()
    }

    let server = track(await startServe(args, { port }))
    const subscriber = track(spawnHerald(['subscribe', '--url', server.url, '--topic', 'jobs', '--count', '6']))
    await waitForSubscriber(server.hubUrl, 'jobs')
    const ids = [await publish(server.url, 'one'), await publish(server.url, 'two')]
    await subscriber.waitForStdout(/"data":"two"/)
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    // Published while the subscriber is away: it must get them from history once the hub is back.
    server = track(await startServe(args, { port }))
    ids.push(await publish(server.url, 'three'), await publish(server.url, 'four'))
    await subscriber.waitForStdout(/"data":"four"/, 20_000)
    ids.push(await publish(server.url, 'five'), await publish(server.url, 'six'))
    expect(await subscriber.exited).toEqual({ code: 0, signal: null })
    const printed = subscriber.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; data: string })
    expect(printed.map((e) => e.data)).toEqual(['one', 'two', 'three', 'four', 'five', 'six'])
    expect(printed.map((e) => e.id)).toEqual(ids)
    expect(subscriber.stderr).toContain(`reconnecting in`)
  })
})

/** Resolves once the hub reports a subscriber on `topic` through the subscriptions API (development mode turns it on). */
async function waitForSubscriber(hubUrl: string, topic: string): Promise<void> {
  const token = (await runHerald(['gen-token', '--key', DEVELOPMENT_JWT_KEY, '--subscribe', '*'])).stdout.trim()
  const deadline = Date.now() + 10_000
  for (;;) {
    const response = await fetch(`${hubUrl}/subscriptions/${encodeURIComponent(topic)}`, { headers: { authorization: `Bearer ${token}` } })
    if (response.ok) {
      const body = (await response.json()) as { subscriptions?: unknown[] }
      if ((body.subscriptions?.length ?? 0) > 0) return
    }
    if (Date.now() > deadline) throw new Error(`no subscriber on ${topic} after 10 s (last status ${response.status})`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
