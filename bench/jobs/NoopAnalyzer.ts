/**
 * The analyzer of the job benchmarks: returns a fixed result at once, so
 * every figure measures the job machinery and the store, not analysis.
 */
import { Effect, Layer } from "effect"
import { AnalysisResult, Analyzer, type Post } from "../../src/index.js"

export const version = "bench-noop-1"

export const result = new AnalysisResult({
  sentiment: { label: "neutral", score: 0, reason: null },
  language: { code: "en", reliable: true },
  topics: [],
  hashtags: [],
  mentions: [],
  emoji: [],
  entities: [],
  keywords: [],
  brandSafety: []
})

/** The analyzer; `onCall` runs first on every call, to stamp it. */
export const layer = (onCall: (post: Post) => Effect.Effect<void>) =>
  Layer.succeed(
    Analyzer,
    Analyzer.of({
      id: "bench-noop",
      version,
      analyze: (post) => Effect.as(onCall(post), result)
    })
  )
