import { describe, expect, it } from 'vitest'
import { pushedStreamSequence } from './push-tail.js'

describe('pushedStreamSequence', () => {
  it('reads the stream sequence of both forms of a JetStream acknowledgement subject', () => {
    // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>
    expect(pushedStreamSequence('$JS.ACK.HERALD_HISTORY.c1.1.4217.12.1732550400000000000.0')).toBe(4217)
    // $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>[.<token>]
    expect(pushedStreamSequence('$JS.ACK.hub.ACCHASH.HERALD_HISTORY.c1.1.99.3.1732550400000000000.0')).toBe(99)
    expect(pushedStreamSequence('$JS.ACK.hub.ACCHASH.HERALD_HISTORY.c1.1.100.3.1732550400000000000.0.r4nd0m')).toBe(100)
  })

  it('answers 0 for any other reply subject, or a sequence that is not a positive integer', () => {
    expect(pushedStreamSequence('')).toBe(0)
    expect(pushedStreamSequence('_INBOX.abc.def')).toBe(0)
    expect(pushedStreamSequence('$JS.FC.HERALD_HISTORY.c1.x')).toBe(0)
    expect(pushedStreamSequence('$JS.ACK.S.c.1.0.1.1.0')).toBe(0)
    expect(pushedStreamSequence('$JS.ACK.S.c.1.x.1.1.0')).toBe(0)
    expect(pushedStreamSequence('$JS.ACK.S.c.1.2.1')).toBe(0)
  })
})
