import type { Logger } from 'pino'
import { isDatabaseUnavailable } from '../db/pg-errors.js'
import {
  chargeableTokens,
  chargeTokens,
  claimRequests,
  releaseRequests,
  type WindowState,
} from '../db/rate-limits.js'
import type { Queryable } from '../db/transaction.js'
import type { Scope } from './api-keys.js'
import { decideRateLimit, type RateLimitDecision, type RateLimitPolicy } from './rate-limit-policy.js'

const WINDOW_MS = 60_000

/** Requests an instance claims at a time: 5% of the limit, at least one. */
export function claimSize(limit: number): number {
  return Math.max(1, Math.floor(limit / 20))
}

/** What one instance knows of a key's current window. */
interface KeyWindow {
  windowStart: number
  /** Requests granted to all instances when last seen. */
  claimed: number
  /** Requests this instance was granted and has not admitted yet. */
  grant: number
  /** Tokens charged by all instances when last seen (this instance's synced charges included). */
  tokens: number
  /** Local clock when the database was last asked about this window. */
  seenAt: number
  /** The last claim asked for requests and got none: the minute is used up (until refreshed). */
  exhausted: boolean
}

export interface RateLimiterOptions {
  /** How often token charges are sent to the database. */
  syncMs: number
  /** How old this instance's view of a key's window may get before it asks the database again. */
  refreshMs: number
  logger: Logger
}

/**
 * Per-key requests-per-minute and model-tokens-per-minute limits shared by every API instance through
 * PostgreSQL, without a database statement per request.
 *
 * Requests: an instance claims a block of a key's minute (5% of the limit, at least one request) in one
 * statement that never grants past the limit, then admits from that block in memory. So the limit holds
 * exactly across instances as an upper bound; with several instances, blocks another instance claimed
 * and has not used count as used, so a key can be refused up to (instances - 1) blocks early in a
 * minute. One instance is exact. Small limits (under 40 a minute) claim one request at a time. An
 * instance that shuts down cleanly gives its unused requests back; one that crashes strands them
 * until the minute ends.
 *
 * Tokens: charged in memory after each model call and added to the database every `syncMs` in one
 * statement for all keys. The check refuses once the tokens known here (the database's total when last
 * seen plus this instance's unsent charges) reach the limit; other instances' charges are seen at the
 * next claim or refresh (`refreshMs`, a second by default).
 *
 * Windows are fixed minutes of the database clock, as before.
 */
export class RateLimiter {
  private readonly windows = new Map<string, KeyWindow>()
  private readonly claims = new Map<string, Promise<{ granted: number; block: number }>>()
  /** Charges not yet sent, and charges being sent (still counted until the database confirms them). */
  private unsent = new Map<string, number>()
  private sending = new Map<string, number>()
  private syncing: Promise<void> | undefined
  private clockOffsetMs = 0
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly db: Queryable,
    readonly defaults: RateLimitPolicy,
    private readonly options: RateLimiterOptions,
  ) {
    this.timer = setInterval(() => void this.sync(), options.syncMs)
    this.timer.unref()
  }

  /**
   * Decide one authenticated request: admitted (with RateLimit headers when a request limit applies)
   * or refused. Keys without limits cost nothing; others touch the database only to claim a block or
   * refresh a stale view.
   */
  async admit(
    key: { id: string; rateLimitRpm: number | null; rateLimitTpm: number | null },
    scope: Scope,
  ): Promise<RateLimitDecision> {
    const rpm = key.rateLimitRpm ?? this.defaults.rpm
    const tpm = key.rateLimitTpm ?? this.defaults.tpm
    const checksTokens = scope === 'generate' && tpm > 0
    if (rpm === 0 && !checksTokens) return { allowed: true, headers: {} }
    const limits = { rpm: key.rateLimitRpm, tpm: key.rateLimitTpm }

    // Every answer is decideRateLimit's, over what this instance knows of the key's minute.
    const decide = (requests: number, window: KeyWindow | undefined): RateLimitDecision =>
      decideRateLimit(
        {
          ...limits,
          requests,
          tokens: (window?.tokens ?? 0) + this.pendingTokens(key.id),
          resetSeconds: window ? this.resetSeconds(window) : 1,
        },
        this.defaults,
        scope,
      )
    // The minute is used up: refused as one request over the limit, counting nothing.
    const refuse = () => decide(rpm + 1, this.windows.get(key.id))
    for (;;) {
      const window = this.freshWindow(key.id)
      if (window && (rpm === 0 || window.grant > 0)) {
        if (rpm > 0) window.grant -= 1
        const decision = decide(window.claimed - window.grant, window)
        // Refused for tokens: the request slot goes back to the block.
        if (!decision.allowed && rpm > 0) window.grant += 1
        return decision
      }
      // Used up, and known to be within refreshMs: refuse here, without asking the database again.
      if (rpm > 0 && window?.exhausted) return refuse()
      // A view that is only stale (grant left, this minute) is refreshed without claiming more.
      const held = this.windows.get(key.id)
      const holding = held !== undefined && held.windowStart === this.currentWindowStart() && held.grant > 0
      const claim = await this.claim(key.id, rpm === 0 || holding ? 0 : claimSize(rpm), rpm)
      // Only a claim that asked for requests and got none means the minute is used up; a joined refresh
      // (block 0) says nothing about that, so the loop claims again.
      if (rpm > 0 && claim.block > 0 && claim.granted === 0 && (this.freshWindow(key.id)?.grant ?? 0) === 0) {
        return refuse()
      }
    }
  }

  /** Charge a model call's tokens to a key; sent to the database with the next sync. */
  chargeTokens(keyId: string, tokens: number): void {
    if (chargeableTokens(tokens) === null) return
    this.unsent.set(keyId, (this.unsent.get(keyId) ?? 0) + tokens)
  }

  /** Send every charge made so far (tests, shutdown). */
  async flush(): Promise<void> {
    await this.syncing
    await this.sync()
  }

  /** Send unsent charges and give back unused claimed requests of the current minute (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.flush()
    const current = this.currentWindowStart()
    const unused = [...this.windows]
      .filter(([, window]) => window.windowStart === current && window.grant > 0)
      .map(([keyId, window]) => ({ keyId, windowStart: window.windowStart, requests: window.grant }))
    for (const [, window] of this.windows) window.grant = 0
    await releaseRequests(this.db, unused).catch((error: unknown) =>
      this.options.logger.error({ err: error, keys: unused.length }, 'giving back claimed requests failed'),
    )
  }

  private pendingTokens(keyId: string): number {
    return (this.unsent.get(keyId) ?? 0) + (this.sending.get(keyId) ?? 0)
  }

  private currentWindowStart(): number {
    const now = Date.now() + this.clockOffsetMs
    return now - (now % WINDOW_MS)
  }

  private resetSeconds(window: KeyWindow): number {
    const left = window.windowStart + WINDOW_MS - (Date.now() + this.clockOffsetMs)
    return Math.max(1, Math.ceil(left / 1000))
  }

  /** This instance's view of the key's window, if it is for the current minute and recent enough. */
  private freshWindow(keyId: string): KeyWindow | undefined {
    const window = this.windows.get(keyId)
    if (!window || window.windowStart !== this.currentWindowStart()) return undefined
    return Date.now() - window.seenAt < this.options.refreshMs ? window : undefined
  }

  /** One claim per key at a time; requests arriving meanwhile wait for it and then try its grant. */
  private claim(keyId: string, block: number, limit: number): Promise<{ granted: number; block: number }> {
    let pending = this.claims.get(keyId)
    if (!pending) {
      const sentAt = Date.now()
      pending = claimRequests(this.db, { keyId, block, limit })
        .then((state) => {
          // The database read its clock between sending and receiving: take the midpoint.
          this.clockOffsetMs = state.dbNow - (sentAt + Date.now()) / 2
          this.learn(state, state.granted, block)
          return { granted: state.granted, block }
        })
        .finally(() => this.claims.delete(keyId))
      this.claims.set(keyId, pending)
    }
    return pending
  }

  private learn(state: WindowState, granted: number, block: number): void {
    let window = this.windows.get(state.keyId)
    if (!window || window.windowStart !== state.windowStart) {
      window = {
        windowStart: state.windowStart,
        claimed: 0,
        grant: 0,
        tokens: 0,
        seenAt: 0,
        exhausted: false,
      }
      this.windows.set(state.keyId, window)
    }
    window.grant += granted
    window.claimed = state.requests
    // Within a window the total only grows; a reply overtaken by a later one must not lower it.
    window.tokens = Math.max(window.tokens, Number(state.tokens))
    window.seenAt = Date.now()
    if (granted > 0) window.exhausted = false
    else if (block > 0) window.exhausted = true
  }

  private sync(): Promise<void> {
    if (this.syncing || this.unsent.size === 0) return this.syncing ?? Promise.resolve()
    this.sending = this.unsent
    this.unsent = new Map()
    const charges = [...this.sending].map(([keyId, tokens]) => ({ keyId, tokens }))
    this.syncing = chargeTokens(this.db, charges)
      .then((states) => {
        for (const state of states) {
          const window = this.windows.get(state.keyId)
          if (window && window.windowStart === state.windowStart) {
            window.tokens = Math.max(window.tokens, Number(state.tokens))
          }
        }
      })
      .catch((error: unknown) => {
        // Database unreachable: the charges go back and are sent with the next sync. Any other error
        // (a key deleted by hand, say) would fail every retry too, and hold up every key's charges.
        const retry = isDatabaseUnavailable(error)
        if (retry) for (const { keyId, tokens } of charges) this.chargeTokens(keyId, tokens)
        this.options.logger.error(
          { err: error, keys: charges.length },
          retry ? 'charging model tokens failed; will retry' : 'charging model tokens failed',
        )
      })
      .finally(() => {
        this.sending = new Map()
        this.syncing = undefined
      })
    return this.syncing
  }
}
