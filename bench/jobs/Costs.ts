/**
 * CPU costs a job pays per post, measured one by one in this process:
 * the domain classes' constructors with and without validation, row
 * decoding, result encoding, and the Effect combinators the runner wraps
 * each post in.
 */
import { Duration, Effect, Logger, LogLevel, Schedule } from "effect"
import { AnalyzerError, PostAnalysis } from "../../src/index.js"
import * as Rows from "../../src/store/Rows.js"
import * as NoopAnalyzer from "./NoopAnalyzer.js"

export interface Cost {
  readonly name: string
  /**
   * Microseconds of this process's CPU per call in a tight loop: the best
   * of three rounds, so that time other processes take from this one on a
   * loaded machine does not count.
   */
  readonly micros: number
}

const iterations = 1000

const cpuMicros = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const bestOfThree = (round: () => number) => Math.min(round(), round(), round())

const loop = (f: () => unknown): number => {
  for (let i = 0; i < 300; i++) f()
  return bestOfThree(() => {
    const t0 = cpuMicros()
    for (let i = 0; i < iterations; i++) f()
    return (cpuMicros() - t0) / iterations
  })
}

const loopEffect = (effect: Effect.Effect<unknown, unknown>): number =>
  Effect.runSync(
    Effect.gen(function* () {
      for (let i = 0; i < 300; i++) yield* effect
      const rounds: Array<number> = []
      for (let round = 0; round < 3; round++) {
        const t0 = cpuMicros()
        for (let i = 0; i < iterations; i++) yield* effect
        rounds.push((cpuMicros() - t0) / iterations)
      }
      return Math.min(...rounds)
    }).pipe(Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)))
  )

const analysisProps = () => ({
  postId: "post",
  analyzerId: "bench-noop",
  analyzerVersion: NoopAnalyzer.version,
  outcome: { _tag: "Analysed" as const, result: NoopAnalyzer.result },
  analyzedAt: new Date()
})

const postRow = {
  id: "post",
  profile_id: "profile",
  platform_post_id: "p-1",
  caption: "post 1 of bench #bench",
  hashtags: "[\"bench\"]",
  mentions: "[]",
  media_type: "image",
  likes: 10,
  comments: 1,
  views: null,
  posted_at: 1767225600000,
  url: null
}

const resultBody = JSON.stringify(NoopAnalyzer.result)

/** The wrapping AnalyzeProfile gives each analyzer call, around a no-op. */
const perPostWrapper = (Effect.succeed(NoopAnalyzer.result) as Effect.Effect<
  typeof NoopAnalyzer.result,
  AnalyzerError
>).pipe(
  Effect.timeoutFail({
    duration: Duration.seconds(60),
    onTimeout: () => new AnalyzerError({ reason: "Timeout", detail: "timeout" })
  }),
  Effect.retry({
    schedule: Schedule.exponential("200 millis").pipe(Schedule.jittered),
    times: 3,
    while: (e) => e.transient
  }),
  Effect.withSpan("AnalyzeProfile.post", { attributes: { postId: "post" } })
)

export const measure = (): ReadonlyArray<Cost> => [
  { name: "new PostAnalysis, validating", micros: loop(() => new PostAnalysis(analysisProps())) },
  { name: "new PostAnalysis, validation off", micros: loop(() => new PostAnalysis(analysisProps(), true)) },
  {
    name: "post row decoded, then built by Rows.toPost",
    micros: loop(() => Effect.runSync(Rows.decodePosts([postRow])).map(Rows.toPost))
  },
  {
    name: "post row decoded only",
    micros: loop(() => Effect.runSync(Rows.decodePosts([postRow])))
  },
  { name: "result JSON decoded (Rows.decodeResult)", micros: loop(() => Effect.runSync(Rows.decodeResult(resultBody))) },
  { name: "result encoded (Rows.encodeResult)", micros: loop(() => Effect.runSync(Rows.encodeResult(NoopAnalyzer.result))) },
  { name: "JSON.stringify of the result, for scale", micros: loop(() => JSON.stringify(NoopAnalyzer.result)) },
  { name: "Effect.succeed, for scale", micros: loopEffect(Effect.succeed(1)) },
  { name: "Effect.withSpan around a no-op", micros: loopEffect(Effect.withSpan(Effect.void, "span")) },
  {
    name: "Effect.withSpan, captureStackTrace: false",
    micros: loopEffect(Effect.withSpan(Effect.void, "span", { captureStackTrace: false }))
  },
  {
    name: "Effect.timeoutFail around a no-op",
    micros: loopEffect(Effect.timeoutFail(Effect.void, { duration: "60 seconds", onTimeout: () => "timeout" }))
  },
  { name: "Effect.logDebug below the minimum level", micros: loopEffect(Effect.logDebug("analysing")) },
  { name: "the per-post wrapper (timeout, retry, span) around a no-op", micros: loopEffect(perPostWrapper) }
]
