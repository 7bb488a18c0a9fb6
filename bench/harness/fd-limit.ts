/** Reads the open-files limit (RLIMIT_NOFILE) from /proc. */
import { readFileSync } from 'node:fs'

/** Assumed when /proc cannot be read. @defaultValue 1,024 */
const FALLBACK_LIMIT = 1024

/**
 * The soft and hard RLIMIT_NOFILE of this process. Node raises its soft limit to the hard one at start-up,
 * and child processes inherit it, so for the harness's processes both are usually equal.
 *
 * @example
 * readFdLimit() // { soft: 20000, hard: 20000 }
 */
export function readFdLimit(): { soft: number; hard: number } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/)
    const parse = (value: string | undefined): number =>
      value === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(value) || FALLBACK_LIMIT
    return { soft: parse(soft), hard: parse(hard) }
  } catch {
    return { soft: FALLBACK_LIMIT, hard: FALLBACK_LIMIT }
  }
}
