import { CliError } from './errors.js'

/** The hub's path (Mercure). */
const HUB_PATH = '/.well-known/mercure'

/**
 * The hub URL of a `--url` value: a full hub URL is kept; a server's base URL (`http://localhost:3000`, path `/`)
 * gets the hub path `/.well-known/mercure`. Throws `ERR_CLI_USAGE` for anything but an http(s) URL.
 *
 * @example
 * ```ts
 * hubUrl('http://localhost:3000') // URL http://localhost:3000/.well-known/mercure
 * ```
 */
export function hubUrl(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new CliError('ERR_CLI_USAGE', `--url ${JSON.stringify(value)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('ERR_CLI_USAGE', `--url must be http:// or https://, not ${url.protocol}`)
  if (url.pathname === '/' || url.pathname === '') url.pathname = HUB_PATH
  return url
}

/**
 * Describes a refused hub response: its status and, for an `application/problem+json` body, its code, title and
 * detail.
 */
export async function describeRefusal(response: Response): Promise<string> {
  const text = await response.text().catch(() => '')
  let problem: { code?: unknown; title?: unknown; detail?: unknown } = {}
  try {
    problem = JSON.parse(text) as typeof problem
  } catch {
    // Not a problem document: show the text itself.
  }
  const parts = [String(response.status)]
  if (typeof problem.code === 'string') parts.push(problem.code)
  const words = [problem.title, problem.detail].filter((x): x is string => typeof x === 'string' && x !== '')
  if (words.length > 0) parts.push(words.join(': '))
  else if (text.trim() !== '' && typeof problem.code !== 'string') parts.push(text.trim().slice(0, 200))
  return parts.join(' ')
}
