/**
 * Which analyzer a command's runner uses: `--analyzer embedded|openai`,
 * else the PROFILE_INSIGHTS_ANALYZER variable, else "embedded".
 *
 * "openai" reads its endpoint, model, key and limits from the
 * PROFILE_INSIGHTS_OPENAI_* variables (docs/llm-analyzer.md) and talks to
 * it over Node's undici HTTP client. Wire it into a command with
 *
 *     const analyze = Command.make("analyze", { ..., analyzer }, (args) =>
 *       program.pipe(Effect.provide(
 *         Insights.layer().pipe(
 *           Layer.provide(analyzerLayer(args.analyzer)),
 *           Layer.provide(Storage.fromDb(args.db))))))
 */
import { Options } from "@effect/cli"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Config, type ConfigError, Layer } from "effect"
import type { Analyzer } from "../../src/Analyzer.js"
import { EmbeddedAnalyzer } from "../../src/analyzer/EmbeddedAnalyzer.js"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"

export const analyzerChoices = ["embedded", "openai"] as const
export type AnalyzerChoice = typeof analyzerChoices[number]

/** `--analyzer embedded|openai`, falling back to PROFILE_INSIGHTS_ANALYZER. */
export const analyzer: Options.Options<AnalyzerChoice> = Options.choice(
  "analyzer",
  analyzerChoices
).pipe(
  Options.withDescription(
    "the analyzer: embedded (offline, the default) or openai (any OpenAI-compatible" +
      " chat API, configured by the PROFILE_INSIGHTS_OPENAI_* variables);" +
      " also PROFILE_INSIGHTS_ANALYZER"
  ),
  Options.withFallbackConfig(
    Config.literal(...analyzerChoices)("PROFILE_INSIGHTS_ANALYZER").pipe(
      Config.withDefault<AnalyzerChoice>("embedded")
    )
  )
)

/**
 * The Analyzer layer for a choice. For "openai" it fails with a
 * ConfigError naming the variable when one of PROFILE_INSIGHTS_OPENAI_* is
 * malformed; each layer built holds its own rate limiter, concurrency
 * bound and circuit breaker, so build it once per process.
 */
export const analyzerLayer = (
  choice: AnalyzerChoice
): Layer.Layer<Analyzer, ConfigError.ConfigError> =>
  choice === "openai"
    ? OpenAiAnalyzer.layerConfig.pipe(Layer.provide(NodeHttpClient.layerUndici))
    : EmbeddedAnalyzer.layer
