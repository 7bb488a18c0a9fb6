import fc from 'fast-check'
import { URLPattern } from 'urlpattern-polyfill/urlpattern'
import { describe, expect, it } from 'vitest'
import { HubError } from './errors.js'
import {
  DEFAULT_MAX_SELECTOR_LENGTH,
  createTopicSelector,
  createTopicSelectorCache,
  type TopicSelectorSpec,
} from './topic-selector.js'
import { thrownCode } from './testing/error-codes.js'

const topic = (value: string): TopicSelectorSpec => ({ kind: 'topic', value })
const exact = (value: string): TopicSelectorSpec => ({ kind: 'exact', value })
const pattern = (value: string): TopicSelectorSpec => ({ kind: 'urlpattern', value })
const HUB = 'https://hub.example.com/.well-known/mercure'

function matchesTemplate(template: string, candidate: string): boolean {
  return createTopicSelector([topic(template)]).matchesTopic(candidate)
}

// ---------------------------------------------------------------------------------------------------------------
// An RFC 6570 expander (Appendix A), written independently of the matcher, to check that every expansion matches.
type Value = undefined | string | readonly string[] | readonly (readonly [string, string])[]
const UNRESERVED = /[A-Za-z0-9\-._~]/
const RESERVED = /[:/?#[\]@!$&'()*+,;=]/
function encode(value: string, allowReserved: boolean): string {
  let out = ''
  const chars = Array.from(value)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (UNRESERVED.test(c) || (allowReserved && RESERVED.test(c))) out += c
    else if (allowReserved && c === '%' && /^[0-9A-Fa-f]{2}$/.test((chars[i + 1] ?? '') + (chars[i + 2] ?? ''))) out += c
    else for (const b of new TextEncoder().encode(c)) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
const OPS: Record<string, [first: string, sep: string, named: boolean, ifemp: string, reserved: boolean]> = {
  '': ['', ',', false, '', false],
  '+': ['', ',', false, '', true],
  '#': ['#', ',', false, '', true],
  '.': ['.', '.', false, '', false],
  '/': ['/', '/', false, '', false],
  ';': [';', ';', true, '', false],
  '?': ['?', '&', true, '=', false],
  '&': ['&', '&', true, '=', false],
}
function expand(template: string, vars: Record<string, Value>): string {
  return template.replace(/\{([+#./;?&]?)([^}]*)\}/g, (_, op: string, list: string) => {
    const [first, sep, named, ifemp, reserved] = OPS[op]!
    const pieces: string[] = []
    for (const spec of list.split(',')) {
      const m = /^(.+?)(\*|:(\d+))?$/.exec(spec)!
      const name = m[1]!
      const explode = m[2] === '*'
      const prefix = m[3] === undefined ? undefined : Number(m[3])
      const value = vars[name]
      if (value === undefined || (typeof value !== 'string' && value.length === 0)) continue
      if (typeof value === 'string') {
        const v = encode(prefix === undefined ? value : Array.from(value).slice(0, prefix).join(''), reserved)
        pieces.push(named ? (v === '' ? name + ifemp : `${name}=${v}`) : v)
      } else if (!explode) {
        const flat = value.flatMap((item) => (typeof item === 'string' ? [item] : [item[0], item[1]]))
        const joined = flat.map((item) => encode(item, reserved)).join(',')
        pieces.push(named ? (joined === '' ? name + ifemp : `${name}=${joined}`) : joined)
      } else {
        const members = value.map((item) => {
          if (typeof item === 'string') {
            const v = encode(item, reserved)
            return named ? (v === '' ? name + ifemp : `${name}=${v}`) : v
          }
          const k = encode(item[0], reserved)
          const v = encode(item[1], reserved)
          return named && v === '' ? k + ifemp : `${k}=${v}`
        })
        pieces.push(members.join(sep))
      }
    }
    return pieces.length === 0 ? '' : first + pieces.join(sep)
  })
}
// ---------------------------------------------------------------------------------------------------------------

describe('topic selectors (Mercure: topic=, mercure claim)', () => {
  it('[spec] "If the topic selector is * then the string matches the selector"', () => {
    const selector = createTopicSelector([topic('*')])
    expect(selector.matchesAll).toBe(true)
    expect(selector.matchesTopic('https://example.com/anything')).toBe(true)
    expect(selector.matchesTopic('not a url')).toBe(true)
  })

  it('[spec] "If the topic selector and the string are exactly the same, the string matches the selector"', () => {
    expect(matchesTemplate('https://example.com/foo', 'https://example.com/foo')).toBe(true)
    expect(matchesTemplate('bar', 'bar')).toBe(true)
    expect(matchesTemplate('https://example.com/foo', 'https://example.com/foo/')).toBe(false)
    expect(matchesTemplate('https://example.com/Foo', 'https://example.com/foo')).toBe(false)
  })

  it('[spec] "This characteristic allows to compare a URI Template with another one"', () => {
    expect(matchesTemplate('https://example.com/books/{id}', 'https://example.com/books/{id}')).toBe(true)
    expect(matchesTemplate('https://example.com/books/{id}', 'https://example.com/books/{other}')).toBe(false)
  })

  it('[spec] "If the topic selector is a valid URI Template, and that the string matches this URI Template"', () => {
    // The spec's subscription example: `https://example.com/bar/{id}`.
    expect(matchesTemplate('https://example.com/bar/{id}', 'https://example.com/bar/1')).toBe(true)
    expect(matchesTemplate('https://example.com/books/{name}', 'https://example.com/books/dune')).toBe(true)
    expect(matchesTemplate('https://example.com/books/{id}', 'https://example.com/books/')).toBe(true) // id = ""
    expect(matchesTemplate('https://example.com/books/{id}', 'https://example.com/books/1/chapters')).toBe(false)
    expect(matchesTemplate('https://example.com/books/{id}', 'https://example.com/authors/1')).toBe(false)
  })

  it('[spec] "Otherwise the string does not match": an invalid template is only compared exactly', () => {
    for (const invalid of ['https://example.com/{', 'https://example.com/{a b}', "https://example.com/it's/{id}"]) {
      expect(matchesTemplate(invalid, invalid)).toBe(true)
      expect(matchesTemplate(invalid, 'https://example.com/x')).toBe(false)
    }
    expect(matchesTemplate('https://example.com/{=x}', 'https://example.com/')).toBe(false) // op-reserve
  })

  it('[spec] private alternate-topic example: mercure.subscribe "https://example.com/users/foo/{?topic}"', () => {
    const claim = createTopicSelector([topic('https://example.com/users/foo/{?topic}')])
    const update = ['https://example.com/books/1', 'https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1']
    expect(claim.matchesTopic(update[0]!)).toBe(false)
    expect(claim.matches(update)).toBe(true)
    expect(claim.matches(['https://example.com/books/1', 'https://example.com/users/bar/?topic=x'])).toBe(false)
  })

  it('matches when any topic of an update matches any selector', () => {
    const selector = createTopicSelector([topic('https://a.example/{x}'), topic('urn:b')])
    expect(selector.matches(['urn:c', 'urn:b'])).toBe(true)
    expect(selector.matches(['urn:c', 'https://a.example/1'])).toBe(true)
    expect(selector.matches(['urn:c'])).toBe(false)
    expect(selector.matches([])).toBe(false)
    expect(createTopicSelector([]).matchesTopic('urn:b')).toBe(false)
    expect(createTopicSelector([topic('*')]).matches([])).toBe(false)
  })

  it('keeps the specs it was built from, frozen', () => {
    const selector = createTopicSelector([topic('a'), pattern('https://x.example/:id')])
    expect(selector.specs).toEqual([topic('a'), pattern('https://x.example/:id')])
    expect(Object.isFrozen(selector.specs)).toBe(true)
    expect(selector.matchesAll).toBe(false)
  })
})

describe('RFC 6570 URI templates as selectors', () => {
  // RFC 6570 §3.2 example variables.
  const vars: Record<string, Value> = {
    count: ['one', 'two', 'three'],
    dom: ['example', 'com'],
    dub: 'me/too',
    hello: 'Hello World!',
    half: '50%',
    var: 'value',
    who: 'fred',
    base: 'http://example.com/home/',
    path: '/foo/bar',
    list: ['red', 'green', 'blue'],
    keys: [
      ['semi', ';'],
      ['dot', '.'],
      ['comma', ','],
    ],
    v: '6',
    x: '1024',
    y: '768',
    empty: '',
    empty_keys: [],
    undef: undefined,
  }

  // [spec] RFC 6570 §3.2.x: template → expected expansion.
  const cases: [string, string][] = [
    ['{var}', 'value'],
    ['{hello}', 'Hello%20World%21'],
    ['{half}', '50%25'],
    ['O{empty}X', 'OX'],
    ['O{undef}X', 'OX'],
    ['{x,y}', '1024,768'],
    ['{x,hello,y}', '1024,Hello%20World%21,768'],
    ['?{x,empty}', '?1024,'],
    ['?{x,undef}', '?1024'],
    ['?{undef,y}', '?768'],
    ['{var:3}', 'val'],
    ['{var:30}', 'value'],
    ['{list}', 'red,green,blue'],
    ['{list*}', 'red,green,blue'],
    ['{keys}', 'semi,%3B,dot,.,comma,%2C'],
    ['{keys*}', 'semi=%3B,dot=.,comma=%2C'],
    ['{+var}', 'value'],
    ['{+hello}', 'Hello%20World!'],
    ['{+half}', '50%25'],
    ['{base}index', 'http%3A%2F%2Fexample.com%2Fhome%2Findex'],
    ['{+base}index', 'http://example.com/home/index'],
    ['O{+empty}X', 'OX'],
    ['{+path}/here', '/foo/bar/here'],
    ['here?ref={+path}', 'here?ref=/foo/bar'],
    ['up{+path}{var}/here', 'up/foo/barvalue/here'],
    ['{+x,hello,y}', '1024,Hello%20World!,768'],
    ['{+path,x}/here', '/foo/bar,1024/here'],
    ['{+path:6}/here', '/foo/b/here'],
    ['{+list}', 'red,green,blue'],
    ['{+list*}', 'red,green,blue'],
    ['{+keys}', 'semi,;,dot,.,comma,,'],
    ['{+keys*}', 'semi=;,dot=.,comma=,'],
    ['{#var}', '#value'],
    ['{#hello}', '#Hello%20World!'],
    ['{#half}', '#50%25'],
    ['foo{#empty}', 'foo#'],
    ['foo{#undef}', 'foo'],
    ['{#x,hello,y}', '#1024,Hello%20World!,768'],
    ['{#path,x}/here', '#/foo/bar,1024/here'],
    ['{#path:6}/here', '#/foo/b/here'],
    ['{#list}', '#red,green,blue'],
    ['{#list*}', '#red,green,blue'],
    ['{#keys}', '#semi,;,dot,.,comma,,'],
    ['{#keys*}', '#semi=;,dot=.,comma=,'],
    ['{.who}', '.fred'],
    ['{.who,who}', '.fred.fred'],
    ['{.half,who}', '.50%25.fred'],
    ['www{.dom*}', 'www.example.com'],
    ['X{.var}', 'X.value'],
    ['X{.empty}', 'X.'],
    ['X{.undef}', 'X'],
    ['X{.var:3}', 'X.val'],
    ['X{.list}', 'X.red,green,blue'],
    ['X{.list*}', 'X.red.green.blue'],
    ['X{.keys}', 'X.semi,%3B,dot,.,comma,%2C'],
    ['X{.keys*}', 'X.semi=%3B.dot=..comma=%2C'],
    ['X{.empty_keys}', 'X'],
    ['X{.empty_keys*}', 'X'],
    ['{/who}', '/fred'],
    ['{/who,who}', '/fred/fred'],
    ['{/half,who}', '/50%25/fred'],
    ['{/who,dub}', '/fred/me%2Ftoo'],
    ['{/var}', '/value'],
    ['{/var,empty}', '/value/'],
    ['{/var,undef}', '/value'],
    ['{/var,x}/here', '/value/1024/here'],
    ['{/var:1,var}', '/v/value'],
    ['{/list}', '/red,green,blue'],
    ['{/list*}', '/red/green/blue'],
    ['{/list*,path:4}', '/red/green/blue/%2Ffoo'],
    ['{/keys}', '/semi,%3B,dot,.,comma,%2C'],
    ['{/keys*}', '/semi=%3B/dot=./comma=%2C'],
    ['{;who}', ';who=fred'],
    ['{;half}', ';half=50%25'],
    ['{;empty}', ';empty'],
    ['{;v,empty,who}', ';v=6;empty;who=fred'],
    ['{;v,bar,who}', ';v=6;who=fred'],
    ['{;x,y}', ';x=1024;y=768'],
    ['{;x,y,empty}', ';x=1024;y=768;empty'],
    ['{;x,y,undef}', ';x=1024;y=768'],
    ['{;hello:5}', ';hello=Hello'],
    ['{;list}', ';list=red,green,blue'],
    ['{;list*}', ';list=red;list=green;list=blue'],
    ['{;keys}', ';keys=semi,%3B,dot,.,comma,%2C'],
    ['{;keys*}', ';semi=%3B;dot=.;comma=%2C'],
    ['{?who}', '?who=fred'],
    ['{?half}', '?half=50%25'],
    ['{?x,y}', '?x=1024&y=768'],
    ['{?x,y,empty}', '?x=1024&y=768&empty='],
    ['{?x,y,undef}', '?x=1024&y=768'],
    ['{?var:3}', '?var=val'],
    ['{?list}', '?list=red,green,blue'],
    ['{?list*}', '?list=red&list=green&list=blue'],
    ['{?keys}', '?keys=semi,%3B,dot,.,comma,%2C'],
    ['{?keys*}', '?semi=%3B&dot=.&comma=%2C'],
    ['{&who}', '&who=fred'],
    ['{&half}', '&half=50%25'],
    ['?fixed=yes{&x}', '?fixed=yes&x=1024'],
    ['{&x,y,empty}', '&x=1024&y=768&empty='],
    ['{&var:3}', '&var=val'],
    ['{&list}', '&list=red,green,blue'],
    ['{&list*}', '&list=red&list=green&list=blue'],
    ['{&keys}', '&keys=semi,%3B,dot,.,comma,%2C'],
    ['{&keys*}', '&semi=%3B&dot=.&comma=%2C'],
  ]

  it.each(cases)('[spec] RFC 6570 §3.2: %s matches its expansion %s', (template, expansion) => {
    expect(expand(template, vars)).toBe(expansion) // the test's expander agrees with the RFC
    expect(matchesTemplate(template, expansion)).toBe(true)
  })

  it('[spec] simple expansion passes unreserved characters only; others must be percent-encoded', () => {
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/a-b.c_d~e')).toBe(true)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/a%2Fb')).toBe(true)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/a/b')).toBe(false)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/a:b')).toBe(false)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/a b')).toBe(false)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/café')).toBe(false)
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/caf%C3%A9')).toBe(true)
    // A lone "%" cannot come out of an expansion.
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/50%')).toBe(false)
    // "A" is unreserved, so simple expansion never encodes it.
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/%41')).toBe(false)
  })

  it('[spec] reserved expansion ({+var}, {#var}) also passes reserved characters and pct-encoded triplets', () => {
    expect(matchesTemplate('https://example.com{+path}', 'https://example.com/a/b:c?d=e')).toBe(true)
    expect(matchesTemplate('https://example.com{+path}', 'https://example.com/%41')).toBe(true)
    expect(matchesTemplate('https://example.com{+path}', 'https://example.com/a b')).toBe(false)
    expect(matchesTemplate('https://example.com/x{#frag}', 'https://example.com/x#a/b')).toBe(true)
    expect(matchesTemplate('https://example.com/x{#frag}', 'https://example.com/xa/b')).toBe(false)
  })

  it('[spec] level 3: several variables, any of them undefined', () => {
    expect(matchesTemplate('/search{?q,page}', '/search')).toBe(true)
    expect(matchesTemplate('/search{?q,page}', '/search?page=2')).toBe(true)
    expect(matchesTemplate('/search{?q,page}', '/search?q=a&page=2')).toBe(true)
    expect(matchesTemplate('/search{?q,page}', '/search?page=2&q=a')).toBe(false) // order is kept
    expect(matchesTemplate('/search{?q,page}', '/search?other=1')).toBe(false)
    expect(matchesTemplate('/search{?q,page}', '/search?')).toBe(false)
    expect(matchesTemplate('/files{/a,b}', '/files/x/y')).toBe(true)
    expect(matchesTemplate('/files{/a,b}', '/files/x/y/z')).toBe(false)
  })

  it('[spec] level 4: prefix modifiers bound the value length (RFC 6570 §2.4.1)', () => {
    expect(matchesTemplate('/u/{id:3}', '/u/abc')).toBe(true)
    expect(matchesTemplate('/u/{id:3}', '/u/ab')).toBe(true)
    expect(matchesTemplate('/u/{id:3}', '/u/abcd')).toBe(false)
    // One character percent-encoded is still one character.
    expect(matchesTemplate('/u/{id:2}', '/u/%C3%A9%C3%A9')).toBe(true)
    expect(matchesTemplate('/u/{id:2}', '/u/%C3%A9%C3%A9a')).toBe(false)
    // With reserved expansion a passed-through triplet is three characters of the value.
    expect(matchesTemplate('/u{+p:2}', '/u%41')).toBe(false)
    expect(matchesTemplate('/u{+p:3}', '/u%41')).toBe(true)
    expect(matchesTemplate('/u{+p:1}', '/u%25')).toBe(true) // "%" encoded
    expect(matchesTemplate('{;hello:5}', ';hello')).toBe(true)
    expect(matchesTemplate('{;hello:5}', ';hello=')).toBe(false)
  })

  it('[spec] level 4: explode modifiers for lists and associative arrays', () => {
    expect(matchesTemplate('/p{/segments*}', '/p/a/b/c')).toBe(true)
    expect(matchesTemplate('/p{/segments}', '/p/a/b/c')).toBe(false)
    expect(matchesTemplate('/p{?filters*}', '/p?color=red&size=m')).toBe(true)
    expect(matchesTemplate('/p{?filters*}', '/p?color=red&size')).toBe(false)
    expect(matchesTemplate('/p{;params*}', '/p;a=1;b;c=3')).toBe(true)
    expect(matchesTemplate('/p{.ext*}', '/p.tar.gz')).toBe(true)
  })

  it('[non-spec] percent-encoded octets match in either hex case (RFC 3986 §2.1: equivalent)', () => {
    expect(matchesTemplate('https://example.com/{id}', 'https://example.com/caf%c3%a9')).toBe(true)
  })

  it('[non-spec] a non-ASCII literal matches itself (IRI) and its percent-encoded form (URI)', () => {
    expect(matchesTemplate('https://example.com/café/{id}', 'https://example.com/café/1')).toBe(true)
    expect(matchesTemplate('https://example.com/café/{id}', 'https://example.com/caf%C3%A9/1')).toBe(true)
    expect(matchesTemplate('https://example.com/café', 'https://example.com/caf%C3%A9')).toBe(true)
    expect(matchesTemplate('https://example.com/😀/{id}', 'https://example.com/%F0%9F%98%80/x')).toBe(true)
  })

  it('every expansion of a template matches it (property)', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '.', '_', '~', '/', ':', ',', ';', '=', '&', '?', '#', '%', ' ', 'é', '😀', '%41') })
    const value: fc.Arbitrary<Value> = fc.oneof(
      fc.constant(undefined),
      text,
      fc.array(text, { maxLength: 3 }),
      fc.array(fc.tuple(text.filter((k) => k !== ''), text), { maxLength: 3 }),
    )
    const varspec = fc.record({
      name: fc.constantFrom('a', 'b', 'c'),
      mod: fc.constantFrom('', '*', ':1', ':3'),
    })
    const expression = fc.record({
      op: fc.constantFrom('', '+', '#', '.', '/', ';', '?', '&'),
      specs: fc.array(varspec, { minLength: 1, maxLength: 3 }),
    })
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom('x', '/', 'https://h.example/', '-'), expression), { minLength: 1, maxLength: 4 }),
        fc.record({ a: value, b: value, c: value }),
        (pieces, values) => {
          // Prefix modifiers only apply to strings: give composite values to exploded / plain varspecs only.
          const template = pieces
            .map((p) => (typeof p === 'string' ? p : `{${p.op}${p.specs.map((s) => s.name + s.mod).join(',')}}`))
            .join('')
          const usable = Object.fromEntries(
            Object.entries(values).map(([k, v]) => {
              const prefixed = new RegExp(`[{,]${k}:`).test(template.replace(/\{[+#./;?&]?/g, '{'))
              return [k, prefixed && typeof v !== 'string' ? undefined : v]
            }),
          )
          const selector = createTopicSelector([topic(template)], { maxStates: 1_000_000, cache: null })
          expect(selector.matchesTopic(expand(template, usable)), template).toBe(true)
        },
      ),
      { numRuns: 400 },
    )
  })

  it('matches in linear time: no catastrophic backtracking on ambiguous templates', () => {
    // As a RegExp, "{+a*}x" is (R|%HH)*(,(R|%HH)*)*x: exponential backtracking on a long non-matching input.
    const selector = createTopicSelector([topic('{+a*}x'), topic('{a}{b}{c}{d}{e}{f}!')])
    expect(selector.matchesTopic('a,'.repeat(50_000))).toBe(false)
    expect(selector.matchesTopic('a'.repeat(50_000))).toBe(false)
    expect(selector.matchesTopic(`${'a,'.repeat(50_000)}x`)).toBe(true)
  })

  it('stays correct when the lazily built automaton forgets its states (bounded memory)', () => {
    // "(a|b)*a(a|b){8}" needs 2^9 DFA states, more than the 256 one automaton keeps: walking random inputs fills
    // the state cache again and again.
    const source = '(?:a|b)*a(?:a|b){8}'
    const selector = createTopicSelector([pattern(`https://example.com/:x(${source})`)], { cache: null })
    const reference = new RegExp(`^${source}$`)
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 9, maxLength: 60 }), (word) => {
        expect(selector.matchesTopic(`https://example.com/${word}`)).toBe(reference.test(word))
      }),
      { numRuns: 3000 },
    )
  })

  it('strictTemplates refuses a malformed template instead of comparing it exactly', () => {
    expect(thrownCode(() => createTopicSelector([topic('https://example.com/{id')], { strictTemplates: true }))).toBe(
      'ERR_HUB_TOPIC_INVALID_SELECTOR',
    )
    expect(thrownCode(() => createTopicSelector([topic("it's")], { strictTemplates: true }))).toBeUndefined()
  })
})

describe('exact matchers (Mercure draft: match=, matchType Exact)', () => {
  it('[spec] "exact, case-sensitive, byte-for-byte comparison"; no template semantics', () => {
    const selector = createTopicSelector([exact('https://example.com/books/{id}')])
    expect(selector.matchesTopic('https://example.com/books/{id}')).toBe(true)
    expect(selector.matchesTopic('https://example.com/books/1')).toBe(false)
    expect(createTopicSelector([exact('https://example.com/A')]).matchesTopic('https://example.com/a')).toBe(false)
  })

  it('[spec] "MUST NOT resolve relative values … and MUST NOT perform Unicode or IRI normalization"', () => {
    const selector = createTopicSelector([exact('/books/1')], { baseURL: 'https://example.com/' })
    expect(selector.matchesTopic('https://example.com/books/1')).toBe(false)
    expect(selector.matchesTopic('/books/1')).toBe(true)
    expect(createTopicSelector([exact('caf\u00e9')]).matchesTopic('cafe\u0301')).toBe(false)
  })

  it('[spec] "The matcher value * is reserved as a wildcard that matches every topic" regardless of type', () => {
    expect(createTopicSelector([exact('*')]).matchesTopic('urn:x')).toBe(true)
    expect(createTopicSelector([pattern('*')]).matchesTopic('urn:x')).toBe(true)
  })

  it('[spec] matcher values with control characters or invalid UTF-8 are rejected', () => {
    for (const value of ['a\nb', 'a\u0000', 'a\u007f', 'a\u0085', 'a\ud800b']) {
      expect(thrownCode(() => createTopicSelector([exact(value)]))).toBe('ERR_HUB_TOPIC_INVALID_SELECTOR')
      expect(thrownCode(() => createTopicSelector([pattern(`https://x.example/${value}`)]))).toBe(
        'ERR_HUB_TOPIC_INVALID_SELECTOR',
      )
    }
  })
})

describe('URL pattern matchers (Mercure draft: matchURLPattern=, matchType URLPattern)', () => {
  const matchesPattern = (value: string, candidate: string): boolean =>
    createTopicSelector([pattern(value)], { baseURL: HUB }).matchesTopic(candidate)

  it('[spec] "any topic matching the https://example.com/bar/:id URL Pattern"', () => {
    expect(matchesPattern('https://example.com/bar/:id', 'https://example.com/bar/1')).toBe(true)
    expect(matchesPattern('https://example.com/bar/:id', 'https://example.com/bar/1/2')).toBe(false)
    expect(matchesPattern('https://example.com/bar/:id', 'https://example.com/baz/1')).toBe(false)
    expect(matchesPattern('https://example.com/books/:id', 'https://example.com/books/1?x=1#y')).toBe(true)
    expect(matchesPattern('https://example.com/books/:id', 'not a url')).toBe(false)
  })

  it('[spec] "When evaluating a relative pattern or a relative topic, the hub MUST use the hub\'s URL as the base URL"', () => {
    const subscriptions = '/.well-known/mercure/subscriptions/Exact/:topic/:subscriber'
    const event = '/.well-known/mercure/subscriptions/Exact/https%3A%2F%2Fexample.com%2Fa/urn%3Auuid%3A1'
    expect(matchesPattern(subscriptions, event)).toBe(true)
    expect(matchesPattern(subscriptions, `https://hub.example.com${event}`)).toBe(true)
    expect(matchesPattern(subscriptions, `https://other.example.com${event}`)).toBe(false)
    expect(matchesPattern('https://hub.example.com/.well-known/mercure/subscriptions/*', event)).toBe(true)
  })

  it('a relative pattern without the hub URL is an invalid selector; a relative topic matches nothing', () => {
    expect(thrownCode(() => createTopicSelector([pattern('/books/:id')]))).toBe('ERR_HUB_TOPIC_INVALID_SELECTOR')
    expect(createTopicSelector([pattern('https://example.com/*')]).matchesTopic('/books/1')).toBe(false)
  })

  it('[spec] "hubs MUST NOT enable the ignoreCase option. Host components remain case-insensitive"', () => {
    expect(matchesPattern('https://example.com/Books/:id', 'https://example.com/books/1')).toBe(false)
    expect(matchesPattern('https://example.com/books/:id', 'https://EXAMPLE.com/books/1')).toBe(true)
    expect(matchesPattern('https://EXAMPLE.com/books/:id', 'https://example.com/books/1')).toBe(true)
  })

  it('supports groups, modifiers, wildcards and regexp groups', () => {
    expect(matchesPattern('https://example.com/books/:id(\\d+)', 'https://example.com/books/42')).toBe(true)
    expect(matchesPattern('https://example.com/books/:id(\\d+)', 'https://example.com/books/4x')).toBe(false)
    expect(matchesPattern('https://example.com/books{/:id}?', 'https://example.com/books')).toBe(true)
    expect(matchesPattern('https://example.com/books{/:id}?', 'https://example.com/books/1')).toBe(true)
    expect(matchesPattern('https://example.com/files/:path+', 'https://example.com/files/a/b/c')).toBe(true)
    expect(matchesPattern('https://example.com/files/:path*', 'https://example.com/files')).toBe(true)
    expect(matchesPattern('https://*.example.com/*', 'https://eu.example.com/x')).toBe(true)
    expect(matchesPattern('https://*.example.com/*', 'https://example.com/x')).toBe(false)
    expect(matchesPattern('https://example.com/*\\?q=:q', 'https://example.com/a?q=1')).toBe(true)
    expect(matchesPattern('https://example.com/*\\?q=:q', 'https://example.com/a?q=1&r=2')).toBe(true)
    expect(createTopicSelector([pattern('urn\\:isbn\\:*')]).matchesTopic('urn:isbn:0451450523')).toBe(true)
    expect(matchesPattern('https://example.com:8443/*', 'https://example.com/x')).toBe(false)
    // The "/" prefix repeats with the group: "/(a|bc)+" is "/a", "/a/bc", "/bc/a/a", …
    expect(matchesPattern('https://example.com/(a|bc)+', 'https://example.com/a/bc/a')).toBe(true)
    expect(matchesPattern('https://example.com/(a|bc)+', 'https://example.com/abca')).toBe(false)
  })

  it('refuses invalid patterns with ERR_HUB_TOPIC_INVALID_SELECTOR', () => {
    for (const invalid of ['https://example.com/:id(', 'https://example.com/{', 'https://example.com/:']) {
      expect(thrownCode(() => createTopicSelector([pattern(invalid)], { baseURL: HUB }))).toBe(
        'ERR_HUB_TOPIC_INVALID_SELECTOR',
      )
    }
  })

  it('[spec] refuses regular expressions that cannot be matched in linear time (ReDoS mitigation)', () => {
    for (const risky of [
      'https://example.com/:a((?=x)x)',
      'https://example.com/:a((?:a)\\1)',
      'https://example.com/:a(\\p{L}+)',
      'https://example.com/:a((?<=a)b)',
    ]) {
      const error = (() => {
        try {
          createTopicSelector([pattern(risky)])
        } catch (e) {
          return e as HubError
        }
        return undefined
      })()
      expect(error?.code, risky).toBe('ERR_HUB_TOPIC_INVALID_SELECTOR')
    }
  })

  it('[spec] matches pathological patterns in linear time (no backtracking)', () => {
    const selector = createTopicSelector([pattern('https://example.com/:a((?:a+)+b)')])
    expect(selector.matchesTopic(`https://example.com/${'a'.repeat(30_000)}`)).toBe(false)
    expect(selector.matchesTopic(`https://example.com/${'a'.repeat(30_000)}b`)).toBe(true)
  })

  it('agrees with URLPattern.test on generated patterns and topics (property)', () => {
    const segment = fc.constantFrom('a', 'b', 'books', '1', '42', 'x-y', 'caf%C3%A9', 'A')
    const patternPart = fc.constantFrom(
      'books',
      ':id',
      ':id?',
      ':id(\\d+)',
      ':id([a-z]+)',
      '*',
      '{:id}?',
      '{-:id}*',
      ':rest+',
      '(a|b)',
      'a*',
      '{b}?',
    )
    const host = fc.constantFrom('example.com', 'EXAMPLE.com', 'sub.example.com', '*.example.com', 'other.org')
    const query = fc.constantFrom('', '\\?q=:q', '\\?*', '#:frag')
    fc.assert(
      fc.property(
        fc.constantFrom('https', 'http', 'http{s}?'),
        host,
        fc.array(patternPart, { minLength: 1, maxLength: 4 }),
        query,
        fc.constantFrom('https', 'http', 'wss'),
        fc.constantFrom('example.com', 'sub.example.com', 'other.org', 'example.com:8080'),
        fc.array(segment, { maxLength: 5 }),
        fc.constantFrom('', '?q=1', '?q=', '#f', '?r=2#x'),
        (scheme, h, parts, q, inScheme, inHost, segments, suffix) => {
          const value = `${scheme}://${h}/${parts.join('/')}${q}`
          let reference: URLPattern
          try {
            reference = new URLPattern(value)
          } catch {
            return
          }
          const candidate = `${inScheme}://${inHost}/${segments.join('/')}${suffix}`
          expect(createTopicSelector([pattern(value)]).matchesTopic(candidate), `${value} ~ ${candidate}`).toBe(
            reference.test(candidate),
          )
        },
      ),
      { numRuns: 1500 },
    )
  })
})

describe('limits and cache', () => {
  it(`refuses selectors longer than maxSelectorLength (default ${DEFAULT_MAX_SELECTOR_LENGTH})`, () => {
    const long = `https://example.com/${'a'.repeat(DEFAULT_MAX_SELECTOR_LENGTH)}`
    expect(thrownCode(() => createTopicSelector([topic(long)]))).toBe('ERR_HUB_TOPIC_SELECTOR_LIMIT')
    expect(thrownCode(() => createTopicSelector([exact('abcdef')], { maxSelectorLength: 5 }))).toBe(
      'ERR_HUB_TOPIC_SELECTOR_LIMIT',
    )
  })

  it('refuses templates and patterns that compile to too many states', () => {
    expect(thrownCode(() => createTopicSelector([topic('/{id:9999}')]))).toBe('ERR_HUB_TOPIC_SELECTOR_LIMIT')
    expect(thrownCode(() => createTopicSelector([pattern('https://example.com/:a((?:ab){3000})')]))).toBe(
      'ERR_HUB_TOPIC_SELECTOR_LIMIT',
    )
    expect(thrownCode(() => createTopicSelector([topic('/{a}/{b}')], { maxStates: 10 }))).toBe(
      'ERR_HUB_TOPIC_SELECTOR_LIMIT',
    )
  })

  it('refuses malformed specs and options', () => {
    expect(thrownCode(() => createTopicSelector([{ kind: 'regexp', value: 'x' } as unknown as TopicSelectorSpec]))).toBe(
      'ERR_HUB_TOPIC_INVALID_SELECTOR',
    )
    expect(thrownCode(() => createTopicSelector([{ kind: 'topic', value: 1 } as unknown as TopicSelectorSpec]))).toBe(
      'ERR_HUB_TOPIC_INVALID_SELECTOR',
    )
    expect(thrownCode(() => createTopicSelector('x' as unknown as TopicSelectorSpec[]))).toBe(
      'ERR_HUB_TOPIC_INVALID_SELECTOR',
    )
    expect(thrownCode(() => createTopicSelector([], { maxStates: 0 }))).toBe('ERR_HUB_INVALID_OPTION')
    expect(thrownCode(() => createTopicSelector([], { baseURL: '/relative' }))).toBe('ERR_HUB_INVALID_OPTION')
    expect(thrownCode(() => createTopicSelector([], { cache: { maxEntries: 1, size: 0, clear() {} } }))).toBe(
      'ERR_HUB_INVALID_OPTION',
    )
    expect(thrownCode(() => createTopicSelectorCache({ maxEntries: -1 }))).toBe('ERR_HUB_INVALID_OPTION')
  })

  it('shares compiled selectors through a bounded LRU cache', () => {
    const cache = createTopicSelectorCache({ maxEntries: 2 })
    expect(cache.maxEntries).toBe(2)
    createTopicSelector([topic('/a/{x}'), topic('/b/{x}')], { cache })
    expect(cache.size).toBe(2)
    createTopicSelector([topic('/a/{x}')], { cache })
    expect(cache.size).toBe(2)
    const third = createTopicSelector([topic('/c/{x}')], { cache })
    expect(cache.size).toBe(2)
    expect(third.matchesTopic('/c/1')).toBe(true)
    cache.clear()
    expect(cache.size).toBe(0)
    const uncached = createTopicSelectorCache({ maxEntries: 0 })
    createTopicSelector([topic('/a/{x}')], { cache: uncached })
    expect(uncached.size).toBe(0)
  })

  it('returns the same frozen selector for the same list and options, and another for any difference', () => {
    const cache = createTopicSelectorCache({ maxEntries: 2 })
    const list = [topic('/a/{x}'), topic('/b')]
    const first = createTopicSelector(list, { cache })
    expect(createTopicSelector([topic('/a/{x}'), topic('/b')], { cache })).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(createTopicSelector([topic('/b'), topic('/a/{x}')], { cache })).not.toBe(first) // another order, another list
    expect(createTopicSelector(list, { cache, strictTemplates: true })).not.toBe(first)
    expect(createTopicSelector([pattern('/x/:id')], { cache, baseURL: 'https://a.example/' })).not.toBe(
      createTopicSelector([pattern('/x/:id')], { cache, baseURL: 'https://b.example/' }),
    )
    // Bounded: after two other lists, the first is compiled again.
    expect(createTopicSelector(list, { cache })).not.toBe(first)
    expect(createTopicSelector(list, { cache: null })).not.toBe(createTopicSelector(list, { cache: null }))
  })

  it('keeps URL patterns compiled against different base URLs apart', () => {
    const cache = createTopicSelectorCache()
    const a = createTopicSelector([pattern('/x/:id')], { cache, baseURL: 'https://a.example/' })
    const b = createTopicSelector([pattern('/x/:id')], { cache, baseURL: 'https://b.example/' })
    expect(cache.size).toBe(2)
    expect(a.matchesTopic('https://a.example/x/1')).toBe(true)
    expect(b.matchesTopic('https://a.example/x/1')).toBe(false)
  })
})
