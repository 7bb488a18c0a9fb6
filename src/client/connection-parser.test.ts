import { describe, expect, it } from 'vitest'
import { createConnectionParser } from './connection-parser.js'

function run(chunks: (string | number[])[], lastEventId = ''): string[] {
  const out: string[] = []
  const parser = createConnectionParser(
    {
      onEvent: (e) => out.push(`${e.type} ${e.data} #${e.lastEventId}`),
      onLastEventId: (id) => out.push(`id ${id}`),
    },
    null,
    lastEventId,
  )
  for (const chunk of chunks) parser.feed(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : Uint8Array.from(chunk))
  parser.end()
  return out
}

describe('createConnectionParser', () => {
  it('[non-spec] starts from the given last event ID, like browsers after a reconnection', () => {
    expect(run(['data: a\n\n'], '7')).toEqual(['message a #7'])
    expect(run(['id: 8\ndata: a\n\n'], '7')).toEqual(['id 8', 'message a #8'])
    expect(run(['id: 7\ndata: a\n\n'], '7')).toEqual(['message a #7'])
  })

  // 9.2.6 id field: "set the last event ID buffer to the field value" — an empty value clears it.
  it('[spec] an empty id field still clears it', () => {
    expect(run(['id\ndata: a\n\n'], '7')).toEqual(['id ', 'message a #'])
  })

  // 9.2.5: "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any."
  it('[spec] strips one leading BOM, whole or split, and only one', () => {
    expect(run([[0xef, 0xbb, 0xbf], 'data: a\n\n'], '7')).toEqual(['message a #7'])
    expect(run([[0xef], [0xbb], [0xbf, 0x64], 'ata: a\n\n'])).toEqual(['message a #'])
    expect(run([[0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], 'data: a\n\n'])).toEqual([])
    expect(run([[], [0xef, 0xbb, 0xbf], 'data: a\n\n'])).toEqual(['message a #'])
  })

  it('[spec] a body that is only part of a BOM dispatches nothing', () => {
    expect(run([[0xef, 0xbb]])).toEqual([])
  })

  it('[spec] bytes that only look like the start of a BOM are kept', () => {
    expect(run([[0xef], [0xbc], '\ndata: b\n\n'])).toEqual(['message b #'])
  })
})
