import { describe, expect, it } from 'vitest'
import { createResponseHeaders, SSE_RESPONSE_HEADERS } from './response-headers.js'
import { createSseRequest, DEFAULT_LAST_EVENT_ID_PARAM } from './sink.js'

describe('createSseRequest', () => {
  const url = (query = ''): URL => new URL(`http://localhost/sse${query}`)

  it('[spec] reads the resume point from the Last-Event-ID header first', () => {
    const request = createSseRequest(url('?lastEventId=q'), new Headers({ 'Last-Event-ID': 'h' }))
    expect(request.lastEventId).toBe('h')
  })

  it('[non-spec] falls back to the lastEventId query parameter, or a custom one', () => {
    expect(DEFAULT_LAST_EVENT_ID_PARAM).toBe('lastEventId')
    expect(createSseRequest(url('?lastEventId=q'), new Headers()).lastEventId).toBe('q')
    expect(createSseRequest(url('?lastEventID=m'), new Headers(), { lastEventIdParam: 'lastEventID' }).lastEventId).toBe('m')
    expect(createSseRequest(url('?lastEventId=q'), new Headers(), { lastEventIdParam: null }).lastEventId).toBeNull()
  })

  it('treats an empty or absent value as no resume point', () => {
    expect(createSseRequest(url(), new Headers()).lastEventId).toBeNull()
    expect(createSseRequest(url('?lastEventId='), new Headers({ 'last-event-id': '' })).lastEventId).toBeNull()
  })
})

describe('response headers', () => {
  it('are the SSE headers, winning over extra ones', () => {
    expect(SSE_RESPONSE_HEADERS).toEqual({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    })
    expect(Object.isFrozen(SSE_RESPONSE_HEADERS)).toBe(true)
    const headers = createResponseHeaders({ 'Content-Type': 'text/plain', 'Access-Control-Allow-Origin': '*' })
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(headers.get('access-control-allow-origin')).toBe('*')
    expect(headers.has('connection')).toBe(false)
  })
})
