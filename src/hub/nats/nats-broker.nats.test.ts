import { afterEach, describe, expect, it, vi } from 'vitest'
import { brokerConformance, sampleMessage } from '../broker/testing/broker-suite.js'
import type { HubError } from '../errors.js'
import type { HubMessage } from '../update.js'
import { DEFAULT_NATS_BROKER_SUBJECT, NatsBroker, type NatsBrokerOptions } from './nats-broker.js'
import { adminConnection, NATS_URL, requireNats, uniqueName } from './testing/nats-service.js'

const hasNats = await requireNats()

if (hasNats) {
  brokerConformance(
    'NatsBroker',
    () => {
      const subject = uniqueName('broker')
      return { open: ({ onError }) => new NatsBroker({ url: NATS_URL, subject, onError }) }
    },
    { sharedAcrossInstances: true },
  )
}

describe.runIf(hasNats)('NatsBroker', () => {
  const opened: NatsBroker[] = []

  function open(options: NatsBrokerOptions = {}): NatsBroker {
    const broker = new NatsBroker({ url: NATS_URL, subject: uniqueName('broker'), ...options })
    opened.push(broker)
    return broker
  }

  afterEach(async () => {
    for (const broker of opened.splice(0)) await broker.close()
  })

  it('documents its default subject', () => {
    expect(DEFAULT_NATS_BROKER_SUBJECT).toBe('herald.broker')
  })

  it('validates its options at construction with ERR_HUB_INVALID_OPTION, without connecting', () => {
    const invalid: unknown[] = [null, 'x', { url: '' }, { subject: 'a.>' }, { subject: '' }, { requestTimeoutMs: 0 }, { onError: 'log' }, { connection: 1 }]
    for (const options of invalid) {
      expect(() => new NatsBroker(options as NatsBrokerOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: 'ERR_HUB_INVALID_OPTION' }),
      )
    }
  })

  it('rejects a message that breaks the HubMessage contract with ERR_HUB_BROKER_MESSAGE_INVALID', async () => {
    const broker = open()
    const bad: unknown[] = [null, { ...sampleMessage(1), position: { epoch: '', offset: '1' } }, { ...sampleMessage(1), update: { id: 'x' } }]
    for (const message of bad) {
      await expect(broker.publish(message as HubMessage)).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_MESSAGE_INVALID' })
    }
  })

  it('rejects a message larger than the server max_payload with ERR_HUB_BROKER_MESSAGE_TOO_LARGE', async () => {
    const broker = open()
    await broker.publish(sampleMessage(1))
    await expect(broker.publish(sampleMessage(2, { data: 'x'.repeat(2 * 1024 * 1024) }))).rejects.toMatchObject({
      code: 'ERR_HUB_BROKER_MESSAGE_TOO_LARGE',
    })
  })

  it('drops a foreign message on its subject, reporting it, and keeps delivering', async () => {
    const subject = uniqueName('foreign')
    const errors: HubError[] = []
    const broker = open({ subject, onError: (error) => errors.push(error) })
    const received: HubMessage[] = []
    await broker.subscribe((message) => received.push(message))
    const nc = await adminConnection()
    try {
      nc.publish(subject, 'hello')
      nc.publish(subject, JSON.stringify({ v: 2 }))
      await nc.flush()
    } finally {
      await nc.close()
    }
    const message = sampleMessage(1)
    await broker.publish(message)
    await vi.waitFor(() => expect(received).toHaveLength(1))
    expect(received[0]).toStrictEqual(message)
    expect(errors.map((e) => e.code)).toEqual(['ERR_HUB_BROKER_MESSAGE_INVALID', 'ERR_HUB_BROKER_MESSAGE_INVALID'])
  })

  it('hands every listener of a node the same frozen message', async () => {
    const broker = open()
    const received: HubMessage[] = []
    await broker.subscribe((message) => received.push(message))
    await broker.subscribe((message) => received.push(message))
    await broker.publish(sampleMessage(1))
    await vi.waitFor(() => expect(received).toHaveLength(2))
    expect(received[0]).toBe(received[1])
    expect(Object.isFrozen(received[0]!.update)).toBe(true)
  })

  it('fails publish and subscribe with ERR_HUB_BROKER_UNAVAILABLE when NATS cannot be reached', async () => {
    const broker = open({ url: 'nats://127.0.0.1:1', requestTimeoutMs: 200, connectionOptions: { maxReconnectAttempts: 0 } })
    await expect(broker.publish(sampleMessage(1))).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
    await expect(broker.subscribe(() => {})).rejects.toMatchObject({ code: 'ERR_HUB_BROKER_UNAVAILABLE' })
  })

  it('works on a connection the application lends it, and leaves it open', async () => {
    const nc = await adminConnection()
    try {
      const subject = uniqueName('lent')
      const broker = new NatsBroker({ connection: nc, subject })
      const received: HubMessage[] = []
      await broker.subscribe((message) => received.push(message))
      await broker.publish(sampleMessage(1))
      await vi.waitFor(() => expect(received).toHaveLength(1))
      await broker.close()
      expect(nc.isClosed()).toBe(false)
    } finally {
      await nc.close()
    }
  })
})
