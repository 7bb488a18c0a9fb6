import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterEach, describe, expect, it } from 'vitest'
import { startTcpProxy } from '../redis/testing/tcp-proxy.js'
import { StreamPublisher } from './stream-publisher.js'
import { adminConnection, deleteStreams, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()
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
})
