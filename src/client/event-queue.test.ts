import { describe, expect, it } from 'vitest'
import { EventQueue } from './event-queue.js'

describe('EventQueue', () => {
  it('delivers offered items in order, to a waiting consumer at once', async () => {
    const queue = new EventQueue<number>(10, () => undefined)
    const waiting = queue.next()
    queue.offer(1)
    queue.offer(2)
    expect(await waiting).toEqual({ value: 1, done: false })
    expect(await queue.next()).toEqual({ value: 2, done: false })
  })

  it('reports full at the bound, but never while a consumer waits', () => {
    const queue = new EventQueue<number>(2, () => undefined)
    void queue.next()
    expect(queue.full).toBe(false)
    queue.offer(0)
    queue.offer(1)
    expect(queue.full).toBe(false)
    queue.offer(2)
    expect(queue.full).toBe(true)
  })

  it('after end(), delivers what is queued, then done', async () => {
    const queue = new EventQueue<number>(10, () => undefined)
    queue.offer(1)
    queue.end()
    queue.offer(2)
    expect(queue.open).toBe(false)
    expect(await queue.next()).toEqual({ value: 1, done: false })
    expect(await queue.next()).toEqual({ value: undefined, done: true })
  })

  it('after fail(), delivers what is queued, then the error once, then done', async () => {
    const queue = new EventQueue<number>(10, () => undefined)
    queue.offer(1)
    queue.fail(new Error('boom'))
    expect(await queue.next()).toEqual({ value: 1, done: false })
    await expect(queue.next()).rejects.toThrow('boom')
    expect(await queue.next()).toEqual({ value: undefined, done: true })
  })

  it('settles a waiting consumer when the queue ends or fails', async () => {
    const ended = new EventQueue<number>(10, () => undefined)
    const a = ended.next()
    ended.end()
    expect(await a).toEqual({ value: undefined, done: true })
    const failed = new EventQueue<number>(10, () => undefined)
    const b = failed.next()
    failed.fail(new Error('x'))
    await expect(b).rejects.toThrow('x')
  })

  it('return() empties the queue, calls onReturn once, and settles a waiting next()', async () => {
    let returns = 0
    const queue = new EventQueue<number>(10, () => returns++)
    queue.offer(1)
    expect(await queue.return()).toEqual({ value: undefined, done: true })
    expect(await queue.return()).toEqual({ value: undefined, done: true })
    expect(returns).toBe(1)
    expect(await queue.next()).toEqual({ value: undefined, done: true })
  })

  it('refuses a second next() while one is pending', async () => {
    const queue = new EventQueue<number>(10, () => undefined)
    void queue.next()
    await expect(queue.next()).rejects.toThrow(TypeError)
  })

  it('holds many items in amortised constant memory', async () => {
    const queue = new EventQueue<number>(100_000, () => undefined)
    for (let i = 0; i < 50_000; i++) queue.offer(i)
    let sum = 0
    for (let i = 0; i < 50_000; i++) sum += (await queue.next()).value ?? 0
    expect(sum).toBe((49_999 * 50_000) / 2)
  })

  it('is its own async iterator', async () => {
    const queue = new EventQueue<string>(10, () => undefined)
    queue.offer('a')
    queue.offer('b')
    queue.end()
    const seen: string[] = []
    for await (const item of queue) seen.push(item)
    expect(seen).toEqual(['a', 'b'])
  })
})
