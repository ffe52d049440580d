import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, TestClock } from "effect"
import * as RequestLimiter from "../../src/analyzer/openai/RequestLimiter.js"

/** Start times (TestClock millis) of `n` requests of `tokens` each. */
const starts = (limiter: RequestLimiter.RequestLimiter, n: number, tokens: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forEach(
      Array.from({ length: n }),
      () => Effect.zipRight(limiter.take(tokens), Clock.currentTimeMillis),
      { concurrency: "unbounded" }
    ).pipe(Effect.fork)
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  })

describe("RequestLimiter", () => {
  it.effect("spaces request starts evenly: 300 a minute is one every 200 ms", () =>
    Effect.gen(function* () {
      const limiter = yield* RequestLimiter.make({ requestsPerMinute: 300, tokensPerMinute: Infinity })
      expect(yield* starts(limiter, 6, 100)).toEqual([0, 200, 400, 600, 800, 1000])
    }))

  it.effect("spaces by tokens when they are the tighter limit", () =>
    Effect.gen(function* () {
      // 6,000 tokens a minute: a 1,000-token request uses 10 s of it.
      const limiter = yield* RequestLimiter.make({ requestsPerMinute: 600, tokensPerMinute: 6_000 })
      expect(yield* starts(limiter, 3, 1_000)).toEqual([0, 10_000, 20_000])
    }))

  it.effect("settle pushes the next start by the tokens used beyond the estimate", () =>
    Effect.gen(function* () {
      const limiter = yield* RequestLimiter.make({ requestsPerMinute: 600, tokensPerMinute: 6_000 })
      yield* limiter.take(100) // next start at 1 s
      yield* limiter.settle(500) // 500 more tokens: 5 s more
      const [next] = yield* starts(limiter, 1, 100)
      expect(next).toBe(6_000)
    }))

  it.effect("a request larger than the per-minute budget waits a minute, not forever", () =>
    Effect.gen(function* () {
      const limiter = yield* RequestLimiter.make({ requestsPerMinute: 600, tokensPerMinute: 1_000 })
      expect(yield* starts(limiter, 2, 50_000)).toEqual([0, 60_000])
    }))

  it.effect("Infinity turns limiting off", () =>
    Effect.gen(function* () {
      const limiter = yield* RequestLimiter.make({ requestsPerMinute: Infinity, tokensPerMinute: Infinity })
      expect(yield* starts(limiter, 3, 1_000)).toEqual([0, 0, 0])
    }))
})
