import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Ref } from "effect"
import {
  type AnalyzerChoice,
  analyzer,
  analyzerLayer
} from "../../examples/cli/AnalyzerOption.js"
import { Analyzer } from "../../src/Analyzer.js"
import { EmbeddedAnalyzer } from "../../src/analyzer/EmbeddedAnalyzer.js"

/** The choice a command sees for `args`, with `env` as the environment. */
const chosen = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<AnalyzerChoice | null>(null)
    const command = Command.make("x", { analyzer }, (a) => Ref.set(seen, a.analyzer))
    yield* Command.run(command, { name: "x", version: "0" })(["node", "x", ...args])
    return yield* Ref.get(seen)
  }).pipe(
    Effect.provide(NodeContext.layer),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

describe("--analyzer", () => {
  it.effect("defaults to embedded; the flag or PROFILE_INSIGHTS_ANALYZER choose", () =>
    Effect.gen(function* () {
      expect(yield* chosen([])).toBe("embedded")
      expect(yield* chosen(["--analyzer", "openai"])).toBe("openai")
      expect(yield* chosen([], { PROFILE_INSIGHTS_ANALYZER: "openai" })).toBe("openai")
      expect(yield* chosen(["--analyzer", "embedded"], { PROFILE_INSIGHTS_ANALYZER: "openai" }))
        .toBe("embedded")
    }))

  it.effect("rejects an unknown analyzer", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(chosen(["--analyzer", "gpt"]))
      expect(exit._tag).toBe("Failure")
    }))

  it.effect("openai builds the OpenAI-compatible analyzer from PROFILE_INSIGHTS_OPENAI_*", () =>
    Effect.gen(function* () {
      const built = yield* Analyzer.pipe(
        Effect.provide(analyzerLayer("openai")),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
          ["PROFILE_INSIGHTS_OPENAI_MODEL", "llama3.1:8b"],
          ["PROFILE_INSIGHTS_OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"]
        ])))
      )
      expect(built.id).toBe("openai")
      expect(built.version).toBe("openai-1/llama3.1:8b/prompt-1")
      expect(analyzerLayer("embedded")).toBe(EmbeddedAnalyzer.layer)
    }))
})
