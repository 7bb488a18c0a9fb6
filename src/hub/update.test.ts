import { describe, expect, it } from 'vitest'
import { validateHubUpdate } from './update.js'

const valid = { id: 'urn:uuid:1', topics: ['https://example.com/books/1'], data: '{}', private: false }

describe('validateHubUpdate', () => {
  it('accepts a minimal update, and one with every optional field', () => {
    expect(validateHubUpdate(valid)).toBeUndefined()
    expect(validateHubUpdate({ ...valid, topics: ['/a', '/b'], data: '', private: true, type: 'changed', retry: 0 })).toBeUndefined()
  })

  it('treats an optional field set to undefined as absent', () => {
    expect(validateHubUpdate({ ...valid, type: undefined, retry: undefined })).toBeUndefined()
  })

  it('says what is wrong with an invalid update', () => {
    const cases: [unknown, RegExp][] = [
      [null, /object/],
      ['update', /object/],
      [{ ...valid, id: '' }, /id/],
      [{ ...valid, id: 7 }, /id/],
      [{ ...valid, id: 'a\nb' }, /CR, LF or NULL/],
      [{ ...valid, id: 'a\0b' }, /CR, LF or NULL/],
      [{ ...valid, topics: [] }, /topic/],
      [{ ...valid, topics: 'https://example.com' }, /topic/],
      [{ ...valid, topics: ['/a', ''] }, /topic/],
      [{ ...valid, topics: ['/a', 3] }, /topic/],
      [{ ...valid, data: undefined }, /data/],
      [{ ...valid, data: { a: 1 } }, /data/],
      [{ ...valid, private: 'false' }, /private/],
      [{ ...valid, private: undefined }, /private/],
      [{ ...valid, type: 3 }, /type/],
      [{ ...valid, type: 'a\r\nb' }, /CR or LF/],
      [{ ...valid, retry: -1 }, /retry/],
      [{ ...valid, retry: 2.5 }, /retry/],
      [{ ...valid, retry: '1000' }, /retry/],
      [{ ...valid, retry: Number.NaN }, /retry/],
    ]
    for (const [update, message] of cases) expect(validateHubUpdate(update), JSON.stringify(update)).toMatch(message)
  })
})
