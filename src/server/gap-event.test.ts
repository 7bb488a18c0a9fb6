import { describe, expect, it } from 'vitest'
import { createParser, type ParsedEvent } from '../protocol/index.js'
import { encodeGapEvent, GAP_EVENT } from './gap-event.js'

describe('encodeGapEvent', () => {
  it('is a named event without an id, whose data is JSON', () => {
    expect(GAP_EVENT).toBe('herald-gap')
    const bytes = encodeGapEvent({ lastEventId: 'x\ty', reason: 'expired', oldestId: 'a', newestId: null })
    expect(new TextDecoder().decode(bytes)).toBe(
      'event: herald-gap\ndata: {"lastEventId":"x\\ty","reason":"expired","oldestId":"a","newestId":null}\n\n',
    )
    const events: ParsedEvent[] = []
    createParser({ onEvent: (e) => events.push(e) }).feed(bytes)
    expect(events[0]).toMatchObject({ type: 'herald-gap', id: undefined })
    expect(JSON.parse(events[0]!.data)).toEqual({ lastEventId: 'x\ty', reason: 'expired', oldestId: 'a', newestId: null })
  })

  it('keeps only the documented fields', () => {
    const text = new TextDecoder().decode(
      encodeGapEvent({ lastEventId: '1', reason: 'unknown', oldestId: null, newestId: null, extra: 1 } as never),
    )
    expect(text).not.toContain('extra')
  })
})
