import { HubError } from '../errors.js'
import type { PatternNode } from './pattern-node.js'

/**
 * A compiled, anchored matcher: `test(input)` is true when the whole input is in the pattern's language.
 *
 * Matching is linear in the input length whatever the pattern: the pattern becomes a Thompson NFA, which is run as a
 * DFA built lazily, one state per distinct set of NFA states met, with a bounded state cache (RE2's approach). The
 * DFA is a flat `Int32Array` transition table (state × character class), so the per-character loop is two typed
 * array reads; its memory is at most `maxCachedStates` × classes × 4 bytes, allocated as states appear.
 * Backtracking engines (JavaScript's `RegExp`) can take exponential time on patterns such as `{+a*}` or
 * `(a+)+`; topic selectors come from untrusted subscribers, and the Mercure spec requires linear-time matching
 * for URL patterns ("hubs MUST either use a regular expression engine that guarantees linear-time matching … or
 * enforce an … evaluation cost").
 *
 * @internal
 */
export interface Automaton {
  /** Whether the whole of `input` is matched. */
  test(input: string): boolean
  /** The number of NFA states, a measure of the pattern's size. */
  readonly size: number
}

/** Options of {@link compileAutomaton}. */
export interface CompileAutomatonOptions {
  /** The most NFA states the pattern may compile to; larger patterns throw `ERR_HUB_TOPIC_SELECTOR_LIMIT`. */
  readonly maxStates: number
  /** The most DFA states kept per automaton; when full, the cache is emptied and rebuilt on demand. */
  readonly maxCachedStates: number
  /** Named in the error message when the pattern is too large. */
  readonly description: string
}

const CHAR = 0
const SPLIT = 1
const MATCH = 2
/** Transition table entries: not computed yet, or leading to the empty (never matching) state. */
const UNKNOWN = -1
const DEAD = -2

/**
 * Compiles a pattern into an {@link Automaton}.
 *
 * Throws `ERR_HUB_TOPIC_SELECTOR_LIMIT` when the NFA would exceed `maxStates` (for example `{var:9999}` or
 * `a{1000}`): the bound keeps both compile time and per-character matching cost in check.
 *
 * @internal
 */
export function compileAutomaton(root: PatternNode, options: CompileAutomatonOptions): Automaton {
  // ---- NFA construction (backwards: each node is built knowing the state it continues to) ----
  const kind: number[] = []
  const setOf: number[] = []
  const out1: number[] = []
  const out2: number[] = []
  const sets: (readonly number[])[] = []
  const setIds = new Map<string, number>()

  const add = (k: number, set: number, a: number, b: number): number => {
    if (kind.length >= options.maxStates) {
      throw new HubError(
        'ERR_HUB_TOPIC_SELECTOR_LIMIT',
        `${options.description} is too complex: it compiles to more than ${options.maxStates} states`,
      )
    }
    kind.push(k)
    setOf.push(set)
    out1.push(a)
    out2.push(b)
    return kind.length - 1
  }
  const setId = (ranges: readonly number[]): number => {
    const key = ranges.join(',')
    let id = setIds.get(key)
    if (id === undefined) {
      id = sets.length
      sets.push(ranges)
      setIds.set(key, id)
    }
    return id
  }
  const split = (a: number, b: number): number => add(SPLIT, -1, a, b)

  const build = (node: PatternNode, next: number): number => {
    switch (node.type) {
      case 'set':
        return add(CHAR, setId(node.ranges), next, -1)
      case 'seq': {
        let s = next
        for (let i = node.items.length - 1; i >= 0; i--) s = build(node.items[i] as PatternNode, s)
        return s
      }
      case 'alt': {
        if (node.items.length === 0) return next
        let s = build(node.items[node.items.length - 1] as PatternNode, next)
        for (let i = node.items.length - 2; i >= 0; i--) s = split(build(node.items[i] as PatternNode, next), s)
        return s
      }
      case 'repeat': {
        let s: number
        if (node.max === Infinity) {
          // A loop state: either one more item (which comes back here) or leave.
          const loop = split(-1, next)
          out1[loop] = build(node.item, loop)
          s = loop
        } else {
          s = next
          for (let i = node.min; i < node.max; i++) s = split(build(node.item, s), next)
        }
        for (let i = 0; i < node.min; i++) s = build(node.item, s)
        return s
      }
      case 'counted': {
        // at[w] = state reached after consuming units of total weight w; from there, stop or take another unit.
        const at: number[] = new Array<number>(node.max + 1)
        for (let w = node.max; w >= 0; w--) {
          const choices: number[] = []
          if (w > 0 || !node.nonEmpty) choices.push(next)
          for (const unit of node.units) {
            if (w + unit.weight <= node.max) choices.push(build(unit.node, at[w + unit.weight] as number))
          }
          let s = choices[choices.length - 1] ?? add(CHAR, setId([]), next, -1)
          for (let i = choices.length - 2; i >= 0; i--) s = split(choices[i] as number, s)
          at[w] = s
        }
        return at[0] as number
      }
    }
  }

  const accept = add(MATCH, -1, -1, -1)
  const start = build(root, accept)
  const stateCount = kind.length

  // ---- Alphabet partition: code points split into "atoms" that no set tells apart ----
  const cuts = new Set<number>([0])
  for (const ranges of sets) {
    for (let i = 0; i < ranges.length; i += 2) {
      cuts.add(ranges[i] as number)
      cuts.add((ranges[i + 1] as number) + 1)
    }
  }
  const bounds = Int32Array.from([...cuts].sort((a, b) => a - b))
  const atomCount = bounds.length
  const atomOf = (cp: number): number => {
    // The last bound <= cp (bounds[0] is 0).
    let lo = 0
    let hi = atomCount - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((bounds[mid] as number) <= cp) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  // ASCII topics are the common case: one table look-up instead of a binary search.
  const asciiAtom = new Uint16Array(128)
  for (let cp = 0; cp < 128; cp++) asciiAtom[cp] = atomOf(cp)
  const setHasAtom: Uint8Array[] = sets.map((ranges) => {
    const has = new Uint8Array(atomCount)
    for (let i = 0; i < ranges.length; i += 2) {
      const last = ranges[i + 1] as number
      for (let a = atomOf(ranges[i] as number); a < atomCount && (bounds[a] as number) <= last; a++) has[a] = 1
    }
    return has
  })

  // ---- Lazy DFA: a flat transition table (state id × atom), filled on demand and grown as states appear ----
  const maxStates = options.maxCachedStates
  let capacity = Math.min(8, maxStates)
  let table = new Int32Array(capacity * atomCount).fill(UNKNOWN)
  let accepting = new Uint8Array(capacity)
  const members: Int32Array[] = []
  const ids = new Map<string, number>()
  const mark = new Int32Array(stateCount)
  let generation = 0
  const stack: number[] = []

  /** The id of the DFA state reached from NFA states `seeds`; DEAD when nothing is left. May empty the cache. */
  const stateFor = (seeds: readonly number[]): number => {
    generation++
    const chars: number[] = []
    let accepts = false
    stack.length = 0
    for (const s of seeds) stack.push(s)
    while (stack.length > 0) {
      const s = stack.pop() as number
      if (s < 0 || mark[s] === generation) continue
      mark[s] = generation
      const k = kind[s]
      if (k === SPLIT) stack.push(out2[s] as number, out1[s] as number)
      else if (k === CHAR) chars.push(s)
      else accepts = true
    }
    if (chars.length === 0 && !accepts) return DEAD
    chars.sort((a, b) => a - b)
    const key = accepts ? `${chars.join(',')}!` : chars.join(',')
    const known = ids.get(key)
    if (known !== undefined) return known
    if (members.length >= maxStates) {
      // Bounded memory: forget every state and start over (the start state keeps id 0).
      flush()
      return stateFor(seeds)
    }
    const id = members.length
    if (id === capacity) {
      capacity = Math.min(capacity * 2, maxStates)
      const grown = new Int32Array(capacity * atomCount).fill(UNKNOWN)
      grown.set(table)
      table = grown
      const grownAccepting = new Uint8Array(capacity)
      grownAccepting.set(accepting)
      accepting = grownAccepting
    }
    members.push(Int32Array.from(chars))
    accepting[id] = accepts ? 1 : 0
    ids.set(key, id)
    return id
  }
  let epoch = 0
  const flush = (): void => {
    epoch++
    table.fill(UNKNOWN)
    members.length = 0
    ids.clear()
    stateFor([start])
  }

  /** Computes and records the transition of state `from` on `atom`. */
  const step = (from: number, atom: number): number => {
    const seeds: number[] = []
    for (const s of members[from] as Int32Array) {
      if ((setHasAtom[setOf[s] as number] as Uint8Array)[atom] === 1) seeds.push(out1[s] as number)
    }
    const before = epoch
    const to = stateFor(seeds)
    // After a flush `from` names another state: keep the answer, but do not record it.
    if (epoch === before) table[from * atomCount + atom] = to
    return to
  }

  const initial = stateFor([start])
  return {
    size: stateCount,
    test(input: string): boolean {
      if (initial === DEAD) return false
      let state = 0
      const length = input.length
      for (let i = 0; i < length; i++) {
        let cp = input.charCodeAt(i)
        let atom: number
        if (cp < 128) {
          atom = asciiAtom[cp] as number
        } else {
          if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < length) {
            const low = input.charCodeAt(i + 1)
            if (low >= 0xdc00 && low <= 0xdfff) {
              cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000
              i++
            }
          }
          atom = atomOf(cp)
        }
        let next = table[state * atomCount + atom] as number
        if (next === UNKNOWN) next = step(state, atom)
        // No NFA state left: nothing can match any more.
        if (next === DEAD) return false
        state = next
      }
      return accepting[state] === 1
    },
  }
}
