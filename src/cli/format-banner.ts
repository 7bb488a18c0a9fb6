import { DEVELOPMENT_JWT_KEY, type HubConfig, type LoadedConfig } from '../hub/index.js'
import { signDevelopmentToken } from './development-token.js'
import { packageVersion } from './package-version.js'

/**
 * What `herald serve` prints once it listens: the URLs, the engines and, in development mode, the key, a publisher
 * token (publish and subscribe `*`) and curl commands to try.
 *
 * @example
 * ```ts
 * io.stdout.write(await formatBanner(loaded, address.port))
 * ```
 */
export async function formatBanner(loaded: LoadedConfig, port: number): Promise<string> {
  const { config } = loaded
  const base = `http://${displayHost(config.host)}:${port}`
  const hub = `${base}/.well-known/mercure`
  const lines = [
    `Herald ${packageVersion()} listening on ${base} (${config.mode} mode${config.workers > 1 ? `, ${config.workers} workers` : ''})`,
    `  hub:      ${hub}`,
  ]
  if (config.demos) lines.push(`  demos:    ${base}/`)
  lines.push(`  history:  ${config.history}`, `  broker:   ${config.broker}`)
  if (config.mode === 'development') {
    const token = await signDevelopmentToken(config, { publish: ['*'], subscribe: ['*'] })
    lines.push('', 'Development mode: not for production.' + (config.anonymous ? ' Anyone may subscribe to public updates.' : ''))
    if (config.publisherJwtKey === DEVELOPMENT_JWT_KEY) lines.push(`  development key: ${DEVELOPMENT_JWT_KEY} (HS256)`)
    if (token !== null) {
      lines.push(
        `  publisher token: ${token}`,
        '                   (publish *, subscribe *; no expiry)',
        '',
        'Try it:',
        `  curl -N '${hub}?topic=greetings'`,
        `  curl -d topic=greetings -d data=hello -H 'Authorization: Bearer ${token}' ${hub}`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

function displayHost(host: HubConfig['host']): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}
