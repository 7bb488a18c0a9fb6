import { describe, expect, it } from 'vitest'
import { MinimalMessageEvent, SourceMessageEvent } from './message-event.js'

describe('message events', () => {
  it('uses the runtime MessageEvent where there is one', () => {
    expect(SourceMessageEvent).toBe(globalThis.MessageEvent)
    const event = new SourceMessageEvent('tick', { data: 'x', lastEventId: '1', origin: 'http://a.example' })
    expect([event.type, event.data, event.lastEventId, event.origin]).toEqual(['tick', 'x', '1', 'http://a.example'])
  })

  it('falls back to an Event with the same fields', () => {
    const event = new MinimalMessageEvent('tick', { data: { n: 1 }, lastEventId: '1', origin: 'http://a.example' })
    expect(event).toBeInstanceOf(Event)
    expect([event.type, event.data, event.lastEventId, event.origin, event.ports, event.source]).toEqual(['tick', { n: 1 }, '1', 'http://a.example', [], null])
    const target = new EventTarget()
    let got: unknown
    target.addEventListener('tick', (e) => {
      if (e instanceof MinimalMessageEvent) got = (e.data as { n: number }).n
    })
    target.dispatchEvent(event)
    expect(got).toBe(1)
  })
})
