/**
 * Helpers for the OpenAI-compatible analyzer's tests: posts, an analyzer
 * pointed at a fake server, and a driver that moves the TestClock on in
 * small steps while real HTTP happens, noting when each request arrived
 * in the test's time.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Clock, Duration, Effect, type Exit, Fiber, Layer, type Scope, TestClock } from "effect"
import type { AnalyzerShape } from "../../src/Analyzer.js"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"
import { Post } from "../../src/Domain.js"
import type { FakeChatServer } from "../support/FakeChatServer.js"

export const post = (caption: string, id = "post-1") =>
  new Post({
    id,
    profileId: "profile-1",
    platformPostId: id,
    caption,
    hashtags: [],
    mentions: [],
    mediaType: "image",
    likes: 0,
    comments: 0,
    views: null,
    postedAt: new Date(0),
    url: null
  })

/**
 * Settings for tests: no rate limit, small timings. The request timeout is
 * an hour: on the TestClock, steps go on while real HTTP is in flight, so
 * only tests about timeouts set a short one.
 */
export const testOptions = (
  server: FakeChatServer,
  overrides: Partial<OpenAiAnalyzer.Options> = {}
): OpenAiAnalyzer.Options => ({
  baseUrl: server.baseUrl,
  model: "fake-model",
  apiKey: undefined,
  timeout: "1 hour",
  concurrency: 4,
  requestsPerMinute: Infinity,
  tokensPerMinute: Infinity,
  maxRetries: 2,
  retryBase: "100 millis",
  invalidOutputRetries: 2,
  breakerThreshold: 100,
  breakerCoolDown: "10 seconds",
  ...overrides
})

/** The analyzer over a real (undici) HTTP client open for the scope. */
export const analyzerFor = (
  server: FakeChatServer,
  overrides: Partial<OpenAiAnalyzer.Options> = {}
): Effect.Effect<AnalyzerShape, never, Scope.Scope> =>
  Effect.flatMap(Layer.build(NodeHttpClient.layerUndici), (context) =>
    OpenAiAnalyzer.make(testOptions(server, overrides)).pipe(Effect.provide(context))
  )

const realPause = (millis: number) =>
  Effect.promise(() => new Promise<void>((r) => setTimeout(r, millis)))

export interface Driven<A, E> {
  readonly exit: Exit.Exit<A, E>
  /** TestClock millis at which each request was seen to have arrived. */
  readonly arrivals: ReadonlyArray<number>
}

/**
 * Runs `effect` in a fiber while moving the TestClock on by `step` every
 * few real milliseconds, until it ends (at most `maxSteps` steps).
 */
export const drive = <A, E>(
  server: FakeChatServer,
  effect: Effect.Effect<A, E>,
  step: Duration.DurationInput = "50 millis",
  maxSteps = 2_000
): Effect.Effect<Driven<A, E>> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    const arrivals: Array<number> = []
    const note = Effect.map(Clock.currentTimeMillis, (now) => {
      while (arrivals.length < server.calls().length) arrivals.push(now)
    })
    for (let i = 0; i < maxSteps; i++) {
      yield* realPause(3)
      yield* note
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") return { exit: done.value, arrivals }
      yield* TestClock.adjust(step)
    }
    return yield* Effect.dieMessage(`still running after ${maxSteps} steps of ${Duration.format(step)}`)
  })

/** Moves the clock on in steps until `done` holds (at most `maxSteps`). */
export const stepUntil = (
  done: () => boolean,
  step: Duration.DurationInput = "50 millis",
  maxSteps = 2_000
) =>
  Effect.gen(function* () {
    for (let i = 0; i < maxSteps && !done(); i++) {
      yield* realPause(3)
      if (done()) return
      yield* TestClock.adjust(step)
    }
  })
