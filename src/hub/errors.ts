import { HeraldError } from '../protocol/errors.js'

/**
 * Every code the hub can raise. Codes are `ERR_HUB_<WHAT>`, never renamed or reused; `docs/errors.md` lists each one
 * with the HTTP status it maps to.
 */
export const HUB_ERROR_CODES = [
  'ERR_HUB_INVALID_OPTION',
] as const

/** A code raised by the hub. */
export type HubErrorCode = (typeof HUB_ERROR_CODES)[number]

/** An error raised by the hub, its engines or its HTTP API. */
export class HubError extends HeraldError<HubErrorCode> {
  constructor(code: HubErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'HubError'
  }
}
