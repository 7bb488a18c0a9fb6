import { describe, expect, it } from 'vitest'
import { encodeSseEvent, serializeJson } from './sse-event.js'

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

describe('serializeJson', () => {
  it('passes strings through and turns other values into JSON', () => {
    expect(serializeJson('a "b"', 'message')).toBe('a "b"')
    expect(serializeJson({ a: 1 }, 'message')).toBe('{"a":1}')
    expect(serializeJson(null, 'message')).toBe('null')
    expect(serializeJson(0, 'message')).toBe('0')
    expect(serializeJson([true], 'message')).toBe('[true]')
  })

  it('throws ERR_SERVER_INVALID_EVENT for values JSON cannot represent', () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const bad of [undefined, () => 1, Symbol('s'), 10n, cycle]) {
      expect(() => serializeJson(bad, 'update')).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
    }
  })
})

describe('encodeSseEvent', () => {
  it('encodes the fields in stream order, leaving out the default event name', () => {
    const { message, bytes } = encodeSseEvent({ event: 'update', id: '9', retry: 100, comment: 'c', data: { ok: true } })
    expect(text(bytes)).toBe(': c\nid: 9\nevent: update\ndata: {"ok":true}\nretry: 100\n\n')
    expect(message).toEqual({ event: 'update', id: '9', data: { ok: true } })
    expect(text(encodeSseEvent({ event: 'message', data: 'x' }).bytes)).toBe('data: x\n\n')
    expect(encodeSseEvent({ data: 'x' }).message).toEqual({ event: 'message', id: undefined, data: 'x' })
  })

  it('rejects a non-object event and a serialiser that returns no string', () => {
    expect(() => encodeSseEvent(null as never)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
    expect(() => encodeSseEvent({ data: 1 }, () => 1 as never)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
  })
})
