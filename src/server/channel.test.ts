import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createParser, HeraldError, type ParsedEvent } from '../protocol/index.js'
import { createChannel } from './channel.js'
import { GAP_EVENT } from './gap-event.js'
import { createKeepAliveScheduler, type KeepAliveScheduler } from './keep-alive.js'
import { createMemoryReplay, MemoryReplay } from './memory-replay.js'
import type { ReplayEntry, ReplayResult, ReplayStore } from './replay.js'
import { createSession, type Session, type SessionOptions } from './session.js'
import { createRecordingSink, testRequest, type RecordingSink } from './testing/recording-sink.js'

function parse(sink: RecordingSink): ParsedEvent[] {
  const events: ParsedEvent[] = []
  const parser = createParser({ onEvent: (event) => events.push(event) })
  parser.feed(sink.text())
  return events
}

/** A replay store with the latency of a remote one: appends settle in order after a random delay; reads too. */
class SlowReplay implements ReplayStore {
  readonly inner = new MemoryReplay({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 })
  #chain: Promise<void> = Promise.resolve()
  createId(): string {
    return this.inner.createId()
  }
  append(entry: ReplayEntry): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      await jitter()
      this.inner.append(entry)
    })
    return this.#chain
  }
  async readAfter(lastEventId: string): Promise<ReplayResult> {
    await jitter()
    return this.inner.readAfter(lastEventId)
  }
}

const jitter = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)))

describe('createChannel', () => {
  let scheduler: KeepAliveScheduler
  let sessions: Session[]

  beforeEach(() => {
    scheduler = createKeepAliveScheduler()
    sessions = []
  })

  afterEach(() => {
    for (const session of sessions) session.close()
    expect(scheduler.size).toBe(0)
  })

  function open(lastEventId: string | null = null, options: SessionOptions = {}): { session: Session; sink: RecordingSink } {
    const sink = createRecordingSink()
    const session = createSession(sink, testRequest(lastEventId), { keepAliveScheduler: scheduler, ...options })
    sessions.push(session)
    return { session, sink }
  }

  describe('broadcast', () => {
    it('encodes once and hands the same bytes to every member', () => {
      const serialize = vi.fn((data: unknown) => JSON.stringify(data))
      const channel = createChannel({ serialize })
      const members = Array.from({ length: 50 }, () => open())
      for (const { session } of members) channel.add(session)
      const result = channel.broadcast({ event: 'tick', data: { n: 1 } })
      expect(result).toEqual({ id: undefined, delivered: 50 })
      expect(serialize).toHaveBeenCalledTimes(1)
      const first = members[0]!.sink.writes[1]!
      expect(new TextDecoder().decode(first)).toBe('event: tick\ndata: {"n":1}\n\n')
      for (const { sink } of members) expect(sink.writes[1]).toBe(first)
    })

    it('types events by name', () => {
      interface Events {
        message: string
        joined: { user: string }
      }
      const channel = createChannel<Events>()
      const { session, sink } = open()
      channel.add(session)
      channel.broadcast({ data: 'hi' })
      channel.broadcast({ event: 'joined', data: { user: 'ada' } })
      // @ts-expect-error: 'joined' carries { user }, not a number
      expect(() => channel.broadcast({ event: 'joined', data: 5 })).not.toThrow()
      expect(parse(sink).map((e) => [e.type, e.data])).toEqual([
        ['message', 'hi'],
        ['joined', '{"user":"ada"}'],
        ['joined', '5'],
      ])
    })

    it('applies per-session filters and the `to` option', () => {
      const channel = createChannel<{ score: { team: string } }>()
      const red = open()
      const blue = open()
      channel.add(red.session, { filter: (m) => m.data.team === 'red' })
      channel.add(blue.session, { filter: (m) => m.data.team === 'blue' })
      expect(channel.broadcast({ event: 'score', data: { team: 'red' } }).delivered).toBe(1)
      expect(channel.broadcast({ event: 'score', data: { team: 'blue' } }, { to: (s) => s !== blue.session }).delivered).toBe(0)
      expect(parse(red.sink)).toHaveLength(1)
      expect(parse(blue.sink)).toHaveLength(0)
    })

    it('throws at once for an event the stream cannot carry', () => {
      const channel = createChannel()
      expect(() => channel.broadcast({ data: () => 1 })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_EVENT' }))
      expect(() => channel.broadcast({ id: '\n', data: '' })).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_INVALID_ID' }))
    })
  })

  describe('membership', () => {
    it('lets sessions leave when they close, removing its listener', () => {
      const channel = createChannel()
      const a = open()
      const b = open()
      const removeA = channel.add(a.session)
      channel.add(b.session)
      channel.add(b.session)
      expect(channel.size).toBe(2)
      b.sink.goAway()
      expect(channel.size).toBe(1)
      expect(channel.has(b.session)).toBe(false)
      removeA()
      removeA()
      expect(channel.size).toBe(0)
      expect(a.session.closed).toBe(false)
      expect(channel.remove(a.session)).toBe(false)
      // The session no longer tells the channel when it closes.
      const remove = vi.spyOn(channel, 'remove')
      a.session.close()
      expect(remove).not.toHaveBeenCalled()
    })

    it('ignores a closed session and closes one added to a closed channel', () => {
      const channel = createChannel()
      const closedOne = open()
      closedOne.session.close()
      channel.add(closedOne.session)
      expect(channel.size).toBe(0)
      const member = open()
      channel.add(member.session)
      const reason = new HeraldError('ERR_HUB_SHUTTING_DOWN', 'bye')
      channel.close(reason)
      channel.close()
      expect(channel.closed).toBe(true)
      expect(member.session.closeReason).toBe(reason)
      expect(channel.size).toBe(0)
      const late = open()
      channel.add(late.session)
      expect(late.session.closeReason?.code).toBe('ERR_SERVER_CHANNEL_CLOSED')
      expect(channel.broadcast({ data: 'x' }).delivered).toBe(0)
    })

    it('lists its members', () => {
      const channel = createChannel()
      const a = open()
      channel.add(a.session)
      expect([...channel.sessions()]).toEqual([a.session])
    })

    it('rejects a replay option that is not a store', () => {
      expect(() => createChannel({ replay: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
      expect(() => createChannel({ serialize: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_SERVER_INVALID_OPTION' }))
    })
  })

  describe('replay', () => {
    it('gives broadcast events ids and replays what a resuming session missed, filtered', () => {
      const channel = createChannel({ replay: createMemoryReplay() })
      const ids = ['a', 'b', 'c', 'd'].map((data) => channel.broadcast({ data }).id!)
      expect(new Set(ids).size).toBe(4)
      expect(channel.broadcast({ id: 'mine', data: 'e' }).id).toBe('mine')
      const { session, sink } = open(ids[1])
      channel.add(session, { filter: (m) => m.data !== 'd' })
      channel.broadcast({ data: 'f' })
      expect(parse(sink).map((e) => e.data)).toEqual(['c', 'e', 'f'])
      // The missed events went out as one chunk after the opening comment.
      expect(sink.writes).toHaveLength(3)
    })

    it('joins live only without a resume point, or with lastEventId: null', () => {
      const channel = createChannel({ replay: createMemoryReplay() })
      const first = channel.broadcast({ data: 'old' }).id!
      const fresh = open()
      channel.add(fresh.session)
      const optedOut = open(first)
      channel.add(optedOut.session, { lastEventId: null })
      channel.broadcast({ data: 'new' })
      expect(parse(fresh.sink).map((e) => e.data)).toEqual(['new'])
      expect(parse(optedOut.sink).map((e) => e.data)).toEqual(['new'])
    })

    it('sends the gap event, then everything held, for an id it cannot resume from', () => {
      const replay = createMemoryReplay({ maxEvents: 3 })
      const channel = createChannel({ replay })
      const ids = [0, 1, 2, 3, 4].map((n) => channel.broadcast({ data: String(n) }).id!)
      const expired = open(ids[0])
      channel.add(expired.session)
      const unknown = open('nonsense')
      channel.add(unknown.session)
      for (const { sink } of [expired, unknown]) {
        const events = parse(sink)
        expect(events[0]!.type).toBe(GAP_EVENT)
        expect(events.slice(1).map((e) => e.data)).toEqual(['2', '3', '4'])
      }
      expect(JSON.parse(parse(expired.sink)[0]!.data)).toEqual({ lastEventId: ids[0], reason: 'expired', oldestId: ids[2], newestId: ids[4] })
      expect(JSON.parse(parse(unknown.sink)[0]!.data)).toMatchObject({ lastEventId: 'nonsense', reason: 'unknown' })
      // The gap event carries no id: the client's last event id moves on with the replayed events.
      expect(parse(unknown.sink)[0]!.id).toBeUndefined()
    })

    it('does not count a long replay against the live queue bound', () => {
      const channel = createChannel({ replay: createMemoryReplay() })
      const first = channel.broadcast({ data: 'first' }).id!
      for (let i = 0; i < 50; i++) channel.broadcast({ data: String(i) })
      const { session, sink } = open(first, { maxQueueEvents: 5 })
      sink.full = true
      channel.add(session)
      channel.broadcast({ data: 'live' })
      expect(session.closed).toBe(false)
      sink.drain()
      expect(parse(sink)).toHaveLength(51)
    })

    it('closes with ERR_SERVER_REPLAY_FAILED when the store cannot read, and logs it', async () => {
      const error = vi.fn()
      const store: ReplayStore = {
        createId: () => 'id',
        append: () => undefined,
        readAfter: () => Promise.reject(new Error('store down')),
      }
      const channel = createChannel({ replay: store, logger: { error } })
      const { session } = open('x')
      channel.add(session)
      await vi.waitFor(() => expect(session.closed).toBe(true))
      expect(session.closeReason?.code).toBe('ERR_SERVER_REPLAY_FAILED')
      expect(error).toHaveBeenCalled()
      expect(channel.size).toBe(0)

      const throwing = createChannel({
        replay: { ...store, readAfter: () => { throw new Error('sync failure') } },
      })
      const other = open('x')
      throwing.add(other.session)
      expect(other.session.closeReason?.code).toBe('ERR_SERVER_REPLAY_FAILED')
    })

    it('still delivers live when the store cannot record, and logs it', async () => {
      const error = vi.fn()
      let calls = 0
      const store: ReplayStore = {
        createId: () => String(calls),
        append: () => {
          calls++
          if (calls === 1) throw new Error('sync append failure')
          return Promise.reject(new Error('async append failure'))
        },
        readAfter: () => ({ status: 'found', entries: [] }),
      }
      const channel = createChannel({ replay: store, logger: { error } })
      const { session, sink } = open()
      channel.add(session)
      channel.broadcast({ data: 'one' })
      channel.broadcast({ data: 'two' })
      await vi.waitFor(() => expect(error).toHaveBeenCalledTimes(2))
      expect(parse(sink).map((e) => e.data)).toEqual(['one', 'two'])
    })

    it('closes a session whose catch-up is outrun by live events', async () => {
      const store = new SlowReplay()
      const channel = createChannel({ replay: store })
      const first = channel.broadcast({ data: 'x' }).id!
      await vi.waitFor(() => expect(store.inner.size).toBe(1))
      const { session } = open(first, { maxQueueEvents: 3 })
      channel.add(session)
      for (let i = 0; i < 4; i++) channel.broadcast({ data: String(i) })
      expect(session.closeReason?.code).toBe('ERR_SERVER_SLOW_CONSUMER')
      await vi.waitFor(() => expect(store.inner.size).toBe(5))
    })

    it('resumes right after an event whose recording is still in flight', async () => {
      const store = new SlowReplay()
      const channel = createChannel({ replay: store })
      const id = channel.broadcast({ data: 'just sent' }).id!
      const { session, sink } = open(id)
      channel.add(session)
      channel.broadcast({ data: 'next' })
      await vi.waitFor(() => expect(store.inner.size).toBe(2))
      expect(parse(sink).map((e) => e.data)).toEqual(['next'])
    })

    it.each([
      ['an in-memory store', () => createMemoryReplay({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 })],
      ['a store with latency', () => new SlowReplay()],
    ])('gives every session joining during a publish storm each event once, in order (%s)', async (_name, makeStore) => {
      const channel = createChannel({ replay: makeStore() })
      const published: string[] = []
      const joined: { session: Session; sink: RecordingSink; from: number }[] = []
      const total = 1500
      await new Promise<void>((resolve) => {
        let n = 0
        const publish = (): void => {
          // Bursts of synchronous broadcasts, interleaved with joins.
          for (let burst = 0; burst < 5 && n < total; burst++, n++) published.push(channel.broadcast({ data: String(n) }).id!)
          if (n % 25 === 0 && n < total) {
            const from = Math.floor(Math.random() * published.length)
            const { session, sink } = open(published[from])
            channel.add(session)
            joined.push({ session, sink, from })
          }
          if (n < total) setImmediate(publish)
          else resolve()
        }
        publish()
      })
      // Let the last catch-ups and appends settle.
      await vi.waitFor(() => expect(joined.every(({ session }) => channel.has(session))).toBe(true))
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(joined.length).toBeGreaterThan(40)
      for (const { sink, from, session } of joined) {
        expect(session.closed).toBe(false)
        const received = parse(sink).map((e) => e.lastEventId)
        expect(received).toEqual(published.slice(from + 1))
      }
    })
  })
})
