// Records what an EventSource dispatches, as short strings, for the client's tests.
import { ClientErrorEvent } from '../client-error-event.js'

/** One line per event: `open`, `error <code> <readyState>`, `<type> <data> #<lastEventId>`. */
export interface SourceLog {
  readonly lines: string[]
  readonly errors: ClientErrorEvent[]
  readonly messages: MessageEvent[]
  /** Resolves once `predicate` holds for the lines, checked after each event. Rejects after `timeoutMs`. */
  until(predicate: (lines: readonly string[]) => boolean, timeoutMs?: number): Promise<string[]>
  /** Resolves once a line equal to `line` (or starting with it, when it ends with `*`) was logged. */
  waitFor(line: string, timeoutMs?: number): Promise<string[]>
}

/** Logs `open`, `error` and the given message types of `source`. */
/** The part of an EventSource the log needs; any `EventSource<Events>` has it. */
interface LoggedSource {
  readonly readyState: number
  addEventListener(type: string, listener: (event: Event) => void): void
}

export function logSource(source: LoggedSource, types: readonly string[] = ['message']): SourceLog {
  const lines: string[] = []
  const errors: ClientErrorEvent[] = []
  const messages: MessageEvent[] = []
  const checks = new Set<() => void>()
  const changed = (): void => {
    for (const check of [...checks]) check()
  }
  source.addEventListener('open', () => {
    lines.push('open')
    changed()
  })
  source.addEventListener('error', (event) => {
    // A server event named "error" arrives as a MessageEvent, not a ClientErrorEvent.
    if (!(event instanceof ClientErrorEvent)) return
    errors.push(event)
    lines.push(`error ${event.error.code} ${source.readyState}`)
    changed()
  })
  for (const type of types) {
    source.addEventListener(type, (event) => {
      const message = event as unknown as MessageEvent
      messages.push(message)
      lines.push(`${message.type} ${typeof message.data === 'string' ? message.data : JSON.stringify(message.data)} #${message.lastEventId}`)
      changed()
    })
  }
  const until = (predicate: (lines: readonly string[]) => boolean, timeoutMs = 5000): Promise<string[]> =>
    new Promise((resolve, reject) => {
      if (predicate(lines)) {
        resolve(lines)
        return
      }
      const timer = setTimeout(() => {
        checks.delete(check)
        reject(new Error(`timed out after ${timeoutMs} ms; log so far:\n  ${lines.join('\n  ')}`))
      }, timeoutMs)
      const check = (): void => {
        if (!predicate(lines)) return
        clearTimeout(timer)
        checks.delete(check)
        resolve(lines)
      }
      checks.add(check)
    })
  const matches = (line: string) => (l: string) => (line.endsWith('*') ? l.startsWith(line.slice(0, -1)) : l === line)
  return {
    lines,
    errors,
    messages,
    until,
    waitFor: (line, timeoutMs) => until((ls) => ls.some(matches(line)), timeoutMs),
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
