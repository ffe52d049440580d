/**
 * Requests and tokens per minute, as evenly spaced request starts.
 *
 * Each request reserves the next free start time, and moves it on by the
 * longer of its two shares of a minute: 60000 / requestsPerMinute
 * milliseconds, and its tokens' share, tokens × 60000 / tokensPerMinute.
 * There are no bursts: a limit of 300 a minute starts a request every
 * 200 ms, which also keeps within providers that enforce their limits over
 * shorter windows (per second). Reservations are first come, first served;
 * a waiter that is interrupted gives up its slot unused.
 *
 * Tokens are not known before the answer: a request reserves an estimate,
 * and `settle` pushes the next start on by what the answer used beyond it.
 * Limits of Infinity turn either part off.
 */
import { Clock, Effect, Ref } from "effect"

export interface Limits {
  readonly requestsPerMinute: number
  readonly tokensPerMinute: number
}

export interface RequestLimiter {
  /** Waits for the next start time and reserves it for `tokens`. */
  readonly take: (tokens: number) => Effect.Effect<void>
  /** Accounts for tokens used beyond what was reserved. */
  readonly settle: (extraTokens: number) => Effect.Effect<void>
}

const MINUTE = 60_000

export const make = (limits: Limits): Effect.Effect<RequestLimiter> =>
  Effect.map(Ref.make(0), (nextStart) => {
    const requestGap = MINUTE / limits.requestsPerMinute
    const tokenGap = (tokens: number) =>
      (Math.min(Math.max(0, tokens), limits.tokensPerMinute) * MINUTE) /
      limits.tokensPerMinute
    return {
      take: (tokens) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const start = yield* Ref.modify(nextStart, (next) => {
            const at = Math.max(next, now)
            return [at, at + Math.max(requestGap, tokenGap(tokens))]
          })
          if (start > now) yield* Effect.sleep(start - now)
        }),
      settle: (extraTokens) =>
        extraTokens <= 0 || !Number.isFinite(limits.tokensPerMinute)
          ? Effect.void
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.update(nextStart, (next) => Math.max(next, now) + tokenGap(extraTokens))
          )
    }
  })
