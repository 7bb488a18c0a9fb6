import { describe, expect, it } from 'vitest'
import { MinimalMessageEvent, SourceMessageEvent } from './message-event.js'

describe('message events', () => {
  it('are instances of the runtime MessageEvent where there is one', () => {
    const event = new SourceMessageEvent('tick', { data: 'x', lastEventId: '1', origin: 'http://a.example' })
    expect(event).toBeInstanceOf(MessageEvent)
    expect([event.type, event.data, event.lastEventId, event.origin]).toEqual(['tick', 'x', '1', 'http://a.example'])
    expect([event.target, event.currentTarget, event.eventPhase]).toEqual([null, null, Event.NONE])
  })

  it('report the source as target while it dispatches them, and keep it as target after', () => {
    const event = new SourceMessageEvent('tick', { data: 'x', lastEventId: '', origin: 'http://a.example' })
    const source = new EventTarget()
    SourceMessageEvent.beginDispatch(event, source)
    expect([event.target, event.currentTarget, event.eventPhase]).toEqual([source, source, Event.AT_TARGET])
    SourceMessageEvent.endDispatch(event)
    expect([event.target, event.currentTarget, event.eventPhase]).toEqual([source, null, Event.NONE])
  })

  it('report a native dispatch elsewhere as that dispatch', () => {
    const event = new SourceMessageEvent('tick', { data: 'x', lastEventId: '', origin: 'http://a.example' })
    SourceMessageEvent.beginDispatch(event, new EventTarget())
    SourceMessageEvent.endDispatch(event)
    const other = new EventTarget()
    let seen: unknown[] = []
    other.addEventListener('tick', (e) => (seen = [e.target, e.currentTarget, e.eventPhase]))
    other.dispatchEvent(event)
    expect(seen).toEqual([other, other, Event.AT_TARGET])
    expect(event.target).toBe(other)
  })

  it('record stopImmediatePropagation()', () => {
    const event = new SourceMessageEvent('tick', { data: 'x', lastEventId: '', origin: '' })
    expect(SourceMessageEvent.stopped(event)).toBe(false)
    event.stopImmediatePropagation()
    expect(SourceMessageEvent.stopped(event)).toBe(true)
  })

  it('fall back to an Event with the same fields', () => {
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
