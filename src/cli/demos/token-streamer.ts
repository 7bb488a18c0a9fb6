import type { Hub } from '../../hub/index.js'
import { sleep } from '../sleep.js'

/** Generations running at once, at most, by default. */
export const DEFAULT_MAX_GENERATIONS = 8
/** Time between two tokens by default, in milliseconds. */
export const DEFAULT_TOKEN_INTERVAL_MS = 35
/** The longest prompt accepted, in characters. */
export const MAX_PROMPT_LENGTH = 500

/** Options of {@link createTokenStreamer}. */
export interface TokenStreamerOptions {
  /** Generations running at once, at most; `start` refuses more. @defaultValue {@link DEFAULT_MAX_GENERATIONS} */
  readonly maxGenerations?: number
  /** Milliseconds between two tokens. @defaultValue {@link DEFAULT_TOKEN_INTERVAL_MS} */
  readonly tokenIntervalMs?: number
  /** Receives a failed publish; that generation stops. */
  readonly onError?: (error: unknown) => void
}

/** Streams made-up answers token by token through the hub, like a language model behind a chat page. */
export interface TokenStreamer {
  /**
   * Starts answering `prompt` on `topic`: a `start` event (`{"prompt":…}`), one `token` event per token
   * (`{"index":0,"text":"Server"}`), then a `done` event (`{"tokens":42}`). Returns `false`, starting nothing, when
   * {@link TokenStreamerOptions.maxGenerations} generations are already running.
   */
  start(topic: string, prompt: string): boolean
  /** Generations under way. */
  readonly running: number
  /** Stops every generation and waits for publishes under way. */
  stop(): Promise<void>
}

/**
 * Creates the token streamer of the LLM-style demo: an answer is generated on the server and published one token at
 * a time, as a model's output would be, so that every page subscribed to the topic renders it as it arrives (and a
 * page that reloads mid-answer resumes with Last-Event-ID).
 *
 * The "model" is deterministic text about the prompt, cut into word pieces; it needs no network and no weights.
 *
 * @example
 * ```ts
 * const streamer = createTokenStreamer(hub)
 * streamer.start('llm/1b9d', 'What is SSE?')
 * ```
 */
export function createTokenStreamer(hub: Pick<Hub, 'publish'>, options: TokenStreamerOptions = {}): TokenStreamer {
  const maxGenerations = options.maxGenerations ?? DEFAULT_MAX_GENERATIONS
  const intervalMs = options.tokenIntervalMs ?? DEFAULT_TOKEN_INTERVAL_MS
  const onError = options.onError ?? (() => undefined)
  const generations = new Set<Promise<void>>()
  const controller = new AbortController()

  async function generate(topic: string, prompt: string): Promise<void> {
    const tokens = tokenize(answer(prompt))
    await hub.publish({ topics: topic, type: 'start', data: JSON.stringify({ prompt }) })
    for (let index = 0; index < tokens.length; index++) {
      await sleep(intervalMs, controller.signal)
      if (controller.signal.aborted) return
      await hub.publish({ topics: topic, type: 'token', data: JSON.stringify({ index, text: tokens[index] }) })
    }
    await hub.publish({ topics: topic, type: 'done', data: JSON.stringify({ tokens: tokens.length }) })
  }

  return {
    start(topic, prompt) {
      if (generations.size >= maxGenerations || controller.signal.aborted) return false
      const run: Promise<void> = generate(topic, prompt.slice(0, MAX_PROMPT_LENGTH))
        .catch(onError)
        .finally(() => generations.delete(run))
      generations.add(run)
      return true
    },
    get running() {
      return generations.size
    },
    async stop() {
      controller.abort()
      await Promise.all(generations)
    },
  }
}

/** A made-up answer that quotes the prompt and explains what the page is showing. */
export function answer(prompt: string): string {
  const subject = prompt.trim().replace(/\s+/g, ' ') || 'your question'
  return (
    `You asked: "${subject}". Here is a streamed answer. ` +
    'The server generates this reply one token at a time and publishes every token to a hub topic. ' +
    'The hub appends each one to its history and pushes it to every open page over Server-Sent Events, ' +
    'so the text appears word by word, the way a language model answers. ' +
    'Reload the page in the middle: the browser reconnects with Last-Event-ID and the hub sends the tokens it missed, ' +
    'in order, without repeating any.'
  )
}

/** Cuts text into model-like tokens: words with their leading space, long words in pieces of up to 6 characters. */
export function tokenize(text: string): string[] {
  const tokens: string[] = []
  for (const match of text.matchAll(/\s*\S+/g)) {
    const word = match[0]
    for (let i = 0; i < word.length; i += 6) tokens.push(word.slice(i, i + 6))
  }
  return tokens
}
