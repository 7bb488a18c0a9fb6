// The registry must follow the DOM's rules for listeners ("dispatch an event", "inner invoke":
// https://dom.spec.whatwg.org/#concept-event-dispatch), whichever path an event takes: the source's own dispatch
// (`registry.dispatch`) or `EventTarget.dispatchEvent`. Each test runs both ways.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ListenerRegistry } from './listener-registry.js'
import { SourceMessageEvent } from './message-event.js'

class Target extends EventTarget {
  readonly registry: ListenerRegistry = new ListenerRegistry(this, {
    add: (type, listener, options) => super.addEventListener(type, listener, options),
    remove: (type, listener, options) => super.removeEventListener(type, listener, options),
  })

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    this.registry.add(type, listener, options)
  }

  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
    this.registry.remove(type, listener, options)
  }
}

const message = (type = 'm'): SourceMessageEvent => new SourceMessageEvent(type, { data: 'd', lastEventId: '', origin: '' })
const ways = {
  'the source dispatch': (target: Target, event: SourceMessageEvent) => {
    const entries = target.registry.of(event.type)
    if (entries !== undefined) target.registry.dispatch(event, entries)
  },
  dispatchEvent: (target: Target, event: SourceMessageEvent) => target.dispatchEvent(event),
}

afterEach(() => vi.restoreAllMocks())

for (const [way, dispatch] of Object.entries(ways)) {
  describe(`listeners through ${way}`, () => {
    it('run in the order they were added, with this = the target, objects through handleEvent', () => {
      const target = new Target()
      const calls: string[] = []
      target.addEventListener('m', function (this: unknown) {
        calls.push(`a ${String(this === target)}`)
      })
      target.addEventListener('m', { handleEvent: () => calls.push('b') })
      target.addEventListener('m', () => calls.push('c'), { capture: true })
      target.addEventListener('other', () => calls.push('other'))
      dispatch(target, message())
      expect(calls).toEqual(['a true', 'b', 'c'])
    })

    it('see the target as target and currentTarget, at target phase', () => {
      const target = new Target()
      let seen: unknown[] = []
      target.addEventListener('m', (e) => (seen = [e.target === target, e.currentTarget === target, e.eventPhase]))
      dispatch(target, message())
      expect(seen).toEqual([true, true, Event.AT_TARGET])
    })

    it('are added once per listener and capture flag', () => {
      const target = new Target()
      const listener = vi.fn()
      target.addEventListener('m', listener)
      target.addEventListener('m', listener, false)
      target.addEventListener('m', listener, { capture: true })
      dispatch(target, message())
      expect(listener).toHaveBeenCalledTimes(2)
      target.removeEventListener('m', listener)
      dispatch(target, message())
      expect(listener).toHaveBeenCalledTimes(3)
      target.removeEventListener('m', listener, { capture: true })
      dispatch(target, message())
      expect(listener).toHaveBeenCalledTimes(3)
      expect(target.registry.of('m')).toBeUndefined()
    })

    it('with once run once, whichever path ran them', () => {
      const target = new Target()
      const listener = vi.fn()
      target.addEventListener('m', listener, { once: true })
      dispatch(target, message())
      ways['the source dispatch'](target, message())
      target.dispatchEvent(message())
      expect(listener).toHaveBeenCalledTimes(1)
    })

    it('go when their signal aborts, and are never added with an aborted one', () => {
      const target = new Target()
      const controller = new AbortController()
      const listener = vi.fn()
      target.addEventListener('m', listener, { signal: controller.signal })
      target.addEventListener('m', listener, { signal: AbortSignal.abort(), capture: true })
      dispatch(target, message())
      controller.abort()
      dispatch(target, message())
      expect(listener).toHaveBeenCalledTimes(1)
    })

    it('removed during a dispatch are not called; added during one wait for the next event', () => {
      const target = new Target()
      const calls: string[] = []
      const late = (): number => calls.push('late')
      const second = (): number => calls.push('second')
      target.addEventListener('m', () => {
        calls.push('first')
        target.removeEventListener('m', second)
        target.addEventListener('m', late)
      })
      target.addEventListener('m', second)
      dispatch(target, message())
      expect(calls).toEqual(['first'])
      dispatch(target, message())
      expect(calls).toEqual(['first', 'first', 'late'])
    })

    it('after stopImmediatePropagation() are skipped', () => {
      const target = new Target()
      const after = vi.fn()
      target.addEventListener('m', (e) => e.stopImmediatePropagation())
      target.addEventListener('m', after)
      dispatch(target, message())
      expect(after).not.toHaveBeenCalled()
    })
  })
}

describe('listener errors', () => {
  it('do not stop the other listeners and are reported as uncaught, after the dispatch', async () => {
    const target = new Target()
    const after = vi.fn()
    const reported: unknown[] = []
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      try {
        task()
      } catch (error) {
        reported.push(error)
      }
    })
    target.addEventListener('m', () => {
      throw new Error('listener failed')
    })
    target.addEventListener('m', after)
    ways['the source dispatch'](target, message())
    spy.mockRestore()
    await Promise.resolve()
    expect(after).toHaveBeenCalledTimes(1)
    expect(reported).toEqual([new Error('listener failed')])
  })

  it('rejects a listener that is neither a function nor an object', () => {
    const target = new Target()
    expect(() => target.addEventListener('m', 'nope' as never)).toThrow(TypeError)
    target.addEventListener('m', null)
    target.removeEventListener('m', null)
    expect(target.registry.of('m')).toBeUndefined()
  })
})
