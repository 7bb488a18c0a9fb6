import { describe, expect, it } from 'vitest'
import { isEventStreamType, originOf, planRequest, resolveUrl, toByteString } from './request-plan.js'

describe('request plan', () => {
  // 9.2.2: "if res's `Content-Type` is not `text/event-stream`, then fail the connection" — the MIME type's essence.
  it('[spec] recognises text/event-stream by its essence', () => {
    for (const ok of ['text/event-stream', 'TEXT/Event-Stream', 'text/event-stream; charset=utf-8', ' text/event-stream ;x=1']) {
      expect(isEventStreamType(ok), ok).toBe(true)
    }
    for (const bad of [null, '', 'text/plain', 'text/event-streams', 'text/event', 'application/event-stream']) {
      expect(isEventStreamType(bad), String(bad)).toBe(false)
    }
  })

  it('[spec] encodes a Last-Event-ID as UTF-8 bytes', () => {
    expect(toByteString('42')).toBe('42')
    expect(toByteString('77☃')).toBe('77\u00e2\u0098\u0083')
  })

  it('takes the origin of the final URL, or of the request URL when the response has none', () => {
    expect(originOf('https://b.example:8443/x', 'http://a.example/e')).toBe('https://b.example:8443')
    expect(originOf('', 'http://a.example/e')).toBe('http://a.example')
    expect(originOf('not a url', 'http://a.example/e')).toBe('http://a.example')
  })

  it('resolves URLs and rejects those that do not parse', () => {
    expect(resolveUrl(new URL('http://a.example/e?x')).href).toBe('http://a.example/e?x')
    expect(() => resolveUrl('/relative')).toThrow(expect.objectContaining({ code: 'ERR_CLIENT_INVALID_URL' }))
  })

  it('normalises standard methods and adds Accept only when absent', () => {
    const url = new URL('http://a.example/e')
    expect(planRequest(url, { method: 'post', body: 'x' }, true).method).toBe('POST')
    expect(planRequest(url, { method: 'PATCH', body: 'x' }, true).method).toBe('PATCH')
    expect(planRequest(url, {}, true).headers.get('accept')).toBe('text/event-stream')
    expect(planRequest(url, { headers: [['Accept', 'text/event-stream;q=1']] }, true).headers.get('accept')).toBe('text/event-stream;q=1')
    expect(Object.isFrozen(planRequest(url, {}, true))).toBe(true)
  })

  it('accepts every replayable body type when the request may be sent again', () => {
    const url = new URL('http://a.example/e')
    for (const body of ['s', new URLSearchParams('a=1'), new Blob(['b']), new ArrayBuffer(2), new Uint8Array(2), new FormData()]) {
      expect(planRequest(url, { method: 'POST', body }, true).body).toBe(body)
    }
  })
})
