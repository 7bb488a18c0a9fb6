/**
 * Makes sure Debian packages a peer needs are installed: installs the missing ones with apt-get when the
 * harness runs as root, and otherwise reports them so the peer is skipped with a notice.
 */
import { spawnSync } from 'node:child_process'
import type { Availability } from '../harness/system.js'

/** Upper bound of one apt-get call. @defaultValue 10 minutes */
const APT_TIMEOUT_MS = 10 * 60_000

/** `true` when dpkg reports `package` as installed. */
export function isDebianPackageInstalled(name: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' })
  return result.status === 0 && result.stdout.includes('install ok installed')
}

/** The installed version of `name` (e.g. `1:1.3.6+dfsg-2`), or `null`. */
export function debianPackageVersion(name: string): string | null {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' })
  return result.status === 0 && result.stdout.trim() !== '' ? result.stdout.trim() : null
}

function aptGet(args: readonly string[]): boolean {
  const result = spawnSync('apt-get', [...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: APT_TIMEOUT_MS,
  })
  return result.status === 0
}

/**
 * Installs the missing ones of `packages` (root only: `apt-get install -y --no-install-recommends`, with
 * one `apt-get update` and a retry when the first attempt fails).
 *
 * Installing never starts the packaged services on a machine whose `/usr/sbin/policy-rc.d` forbids it (as
 * in containers); the harness never uses the packaged configs either way.
 *
 * @example
 * await ensureDebianPackages(['pushpin', 'zurl', 'condure'], log) // { available: true }
 */
export function ensureDebianPackages(packages: readonly string[], log: (line: string) => void): Promise<Availability> {
  const missing = packages.filter((name) => !isDebianPackageInstalled(name))
  if (missing.length === 0) return Promise.resolve({ available: true })
  const list = missing.join(' ')
  if (process.getuid?.() !== 0) {
    return Promise.resolve({
      available: false,
      reason: `missing Debian packages: ${list} (install them with "apt-get install ${list}", or run as root)`,
    })
  }
  log(`installing missing Debian packages: ${list}`)
  const install = ['install', '-y', '--no-install-recommends', ...missing]
  const ok = aptGet(install) || (aptGet(['update']) && aptGet(install))
  const still = packages.filter((name) => !isDebianPackageInstalled(name))
  return Promise.resolve(
    ok && still.length === 0
      ? { available: true }
      : { available: false, reason: `apt-get could not install: ${still.join(' ') || list}` },
  )
}
