import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { getFreePort } from '../../../test/helpers/free-port.js'
import { requireService } from '../../../test/helpers/require-service.js'
import { startTcpProxy } from '../redis/testing/tcp-proxy.js'
import { StreamPublisher } from './stream-publisher.js'
import { adminConnection, deleteStreams, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()
/** The NATS server program, for a server of the test's own with permissions set. */
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server'
const hasNatsServer = requireService('nats-server', existsSync(NATS_SERVER), `no program at ${NATS_SERVER} (set NATS_SERVER_BIN)`)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

describe.runIf(hasNats)('StreamPublisher', () => {
  const closing: { close(): unknown }[] = []
  const streams: string[] = []

  afterEach(async () => {
    for (const resource of closing.splice(0).reverse()) await resource.close()
    await deleteStreams(streams.splice(0))
  })

  /** A new stream on `<name>.>`, and a connection to publish on. */
  async function stream(): Promise<{ name: string; nc: NatsConnection }> {
    const name = uniqueName('publisher')
    streams.push(name)
    const nc = await adminConnection()
    closing.push(nc)
    await (await jetstreamManager(nc)).streams.add({ name, subjects: [`${name}.>`], storage: 'memory' })
    return { name, nc }
  }

  function publisher(nc: NatsConnection, name: string, timeoutMs = 5_000): StreamPublisher {
    const opened = new StreamPublisher(nc, name, timeoutMs)
    closing.push(opened)
    return opened
  }

  it('resolves each publish with the stream and sequence that stored it, in call order', async () => {
    const { name, nc } = await stream()
    const toStream = publisher(nc, name)
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => toStream.publish(`${name}.a`, encoder.encode(`message ${i}`))))
    expect(acks.map((ack) => ack.stream)).toEqual(Array(50).fill(name))
    expect(acks.map((ack) => ack.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const jsm = await jetstreamManager(nc)
    const stored = await jsm.streams.getMessage(name, { seq: 50 })
    expect(decoder.decode(stored?.data)).toBe('message 49')
  })

  it('fails a publish no stream takes, and one that another stream than the expected one would take', async () => {
    const first = await stream()
    const second = await stream()
    const toFirst = publisher(first.nc, first.name)
    await expect(toFirst.publish(`${uniqueName('nowhere')}.a`, encoder.encode('x'))).rejects.toThrow(/no stream takes the subject/)
    await expect(toFirst.publish(`${second.name}.a`, encoder.encode('x'))).rejects.toThrow(/the stream refused the publish: .*\(err_code \d+\)/)
    const jsm = await jetstreamManager(first.nc)
    expect((await jsm.streams.info(second.name)).state.messages).toBe(0)
    // The publisher goes on working after refusals.
    await expect(toFirst.publish(`${first.name}.a`, encoder.encode('x'))).resolves.toEqual({ stream: first.name, seq: 1 })
  })

  it('fails a publish whose acknowledgement does not come in time', async () => {
    const { name } = await stream()
    const target = new URL(NATS_URL)
    const network = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) })
    closing.push(network)
    const nc = await connect({ servers: `nats://127.0.0.1:${network.port}` })
    closing.push(nc)
    const slow = publisher(nc, name, 300)
    await expect(slow.publish(`${name}.a`, encoder.encode('before'))).resolves.toMatchObject({ seq: 1 })
    network.stall()
    await expect(slow.publish(`${name}.a`, encoder.encode('stalled'))).rejects.toThrow(/did not acknowledge the publish within 300 ms/)
  })

  it('fails the publishes waiting for an acknowledgement when closed, and every publish after that', async () => {
    const { name, nc } = await stream()
    const closed = publisher(nc, name)
    const waiting = closed.publish(`${name}.a`, encoder.encode('x'))
    closed.close()
    await expect(waiting).rejects.toThrow(/closed/)
    await expect(closed.publish(`${name}.a`, encoder.encode('x'))).rejects.toThrow(/closed/)
  })

  it('rejects, rather than throws, a publish on a connection that was closed', async () => {
    const { name } = await stream()
    const nc = await adminConnection()
    const orphan = publisher(nc, name)
    await nc.close()
    const publish = orphan.publish(`${name}.a`, encoder.encode('x'))
    await expect(publish).rejects.toThrow(/closed/i)
  })

  it.runIf(hasNatsServer)('fails the publishes at once when the server ends its inbox subscription, and subscribes again for the next', async () => {
    // A server of its own, where the publishing user may not subscribe under `denied.>` until the configuration is reloaded.
    const dir = mkdtempSync(join(tmpdir(), 'herald-nats-permissions-'))
    closing.push({ close: () => rmSync(dir, { recursive: true, force: true }) })
    const port = await getFreePort()
    const config = join(dir, 'nats.conf')
    const permissions = (deny: string): string => `{ publish: ">", subscribe: { allow: ">", deny: [${deny}] } }`
    const write = (deny: string): void =>
      writeFileSync(
        config,
        `port: ${port}\nhost: 127.0.0.1\njetstream { store_dir: "${join(dir, 'js')}" }\n` +
          `authorization { users = [ { user: "herald", password: "secret", permissions: ${permissions(deny)} } ] }\n`,
      )
    write('"denied.>"')
    const server = spawn(NATS_SERVER, ['-c', config], { stdio: 'ignore' })
    closing.push({
      close: () =>
        new Promise<void>((resolve) => {
          if (server.exitCode !== null) resolve()
          else server.once('exit', () => resolve()).kill()
        }),
    })
    const options = { servers: `127.0.0.1:${port}`, user: 'herald', pass: 'secret' }
    const admin = await vi.waitFor(() => connect(options), { timeout: 10_000, interval: 100 })
    closing.push(admin)
    const name = uniqueName('permissions')
    await (await jetstreamManager(admin)).streams.add({ name, subjects: [`${name}.>`], storage: 'memory' })
    const nc = await connect({ ...options, inboxPrefix: 'denied' })
    closing.push(nc)
    const denied = publisher(nc, name, 5_000)
    const started = Date.now()
    await expect(denied.publish(`${name}.a`, encoder.encode('x'))).rejects.toThrow(/acknowledgement subscription failed: .*Permissions Violation/i)
    // Failed by the server's answer, not by the timeout.
    expect(Date.now() - started).toBeLessThan(4_000)
    write('')
    server.kill('SIGHUP')
    await vi.waitFor(() => expect(denied.publish(`${name}.a`, encoder.encode('y'))).resolves.toMatchObject({ stream: name }), {
      timeout: 10_000,
      interval: 200,
    })
  })
})
