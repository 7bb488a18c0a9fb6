import { brokerTailsHistory, parseEngineUrl, redactEngineUrl } from '../hub/engines-url.js'
import { DEVELOPMENT_JWT_KEY, type HubConfig, type LoadedConfig } from '../hub/index.js'
import { signDevelopmentToken } from './development-token.js'
import { packageVersion } from './package-version.js'

/**
 * What `herald serve` prints once it listens: the URLs, the engines (passwords in their URLs hidden; a broker that
 * tails the history says so) and, in development mode, the key, a publisher token (publish and subscribe `*`) and
 * curl commands to try.
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
  lines.push(`  history:  ${redactEngineUrl(config.history)}`, `  broker:   ${redactEngineUrl(config.broker)}${tailsHistory(config) ? ' (tails the history)' : ''}`)
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

/** Whether the broker tails the history (`RedisStreamBroker`, `NatsStreamBroker`) rather than use pub/sub. */
function tailsHistory(config: Readonly<HubConfig>): boolean {
  try {
    const broker = parseEngineUrl('broker', config.broker)
    return broker !== undefined && brokerTailsHistory(broker, parseEngineUrl('history', config.history))
  } catch {
    // loadConfig reports URLs that do not parse; a banner is no place for that.
    return false
  }
}
