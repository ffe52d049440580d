/**
 * An Analyzer for pipeline tests whose behaviour per post is scripted by
 * its caption, and which counts its calls. Captions containing
 * "fail-forever" are rejected on every call; "flaky-N" fails as
 * unavailable on the first N calls for that post; "slow-MS" takes MS
 * milliseconds of the test's clock.
 */
import { Effect, Layer, Ref } from "effect"
import { Analyzer, AnalysisResult, AnalyzerError } from "../../src/index.js"

export interface ScriptedAnalyzer {
  readonly layer: Layer.Layer<Analyzer>
  /** Calls made so far, by post caption. */
  readonly calls: Effect.Effect<ReadonlyArray<string>>
}

export const result = (caption: string) =>
  new AnalysisResult({
    sentiment: caption.includes("sad")
      ? { label: "negative", score: -0.5, reason: null }
      : { label: "positive", score: 0.5, reason: null },
    language: { code: "en", reliable: true },
    topics: caption.includes("food") ? [{ topic: "food", confidence: 0.9 }] : [],
    hashtags: [],
    mentions: [],
    emoji: [],
    entities: [],
    keywords: [],
    brandSafety: []
  })

export const make = (version = "scripted-1") =>
  Effect.gen(function* () {
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    const analyzer = Analyzer.of({
      id: "scripted",
      version,
      analyze: (post) =>
        Effect.gen(function* () {
          const previous = yield* Ref.modify(log, (calls) => [
            calls.filter((c) => c === post.caption).length,
            [...calls, post.caption]
          ])
          const slow = /slow-(\d+)/.exec(post.caption)
          if (slow) yield* Effect.sleep(Number(slow[1]))
          if (post.caption.includes("fail-forever")) {
            return yield* new AnalyzerError({ reason: "Rejected", detail: "scripted rejection" })
          }
          const flaky = /flaky-(\d+)/.exec(post.caption)
          if (flaky && previous < Number(flaky[1])) {
            return yield* new AnalyzerError({ reason: "Unavailable", detail: "scripted outage" })
          }
          return result(post.caption)
        })
    })
    return {
      layer: Layer.succeed(Analyzer, analyzer),
      calls: Ref.get(log)
    } satisfies ScriptedAnalyzer
  })
