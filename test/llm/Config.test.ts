import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("OpenAiAnalyzer configuration", () => {
  it.effect("reads the PROFILE_INSIGHTS_OPENAI_* variables", () =>
    Effect.gen(function* () {
      const options = yield* OpenAiAnalyzer.config.pipe(
        withEnv({
          PROFILE_INSIGHTS_OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
          PROFILE_INSIGHTS_OPENAI_MODEL: "llama3.1:8b",
          PROFILE_INSIGHTS_OPENAI_API_KEY: "sk-local",
          PROFILE_INSIGHTS_OPENAI_TIMEOUT: "45 seconds",
          PROFILE_INSIGHTS_OPENAI_CONCURRENCY: "8",
          PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE: "500",
          PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE: "0",
          PROFILE_INSIGHTS_OPENAI_RESPONSE_FORMAT: "json_object",
          PROFILE_INSIGHTS_OPENAI_PROMPT_PRICE_PER_1K: "0.00015",
          PROFILE_INSIGHTS_OPENAI_BREAKER_COOL_DOWN: "1 minute"
        })
      )
      expect(options.baseUrl).toBe("http://127.0.0.1:11434/v1")
      expect(options.model).toBe("llama3.1:8b")
      expect(Redacted.value(options.apiKey!)).toBe("sk-local")
      expect(Duration.toMillis(options.timeout!)).toBe(45_000)
      expect(options.concurrency).toBe(8)
      expect(options.requestsPerMinute).toBe(500)
      expect(options.tokensPerMinute).toBe(Infinity)
      expect(options.responseFormat).toBe("json_object")
      expect(options.promptPricePer1k).toBe(0.00015)
      expect(Duration.toMillis(options.breakerCoolDown!)).toBe(60_000)
      expect(options.maxRetries).toBe(2)
    }))

  it.effect("has defaults for everything and no API key unless given", () =>
    Effect.gen(function* () {
      const options = yield* OpenAiAnalyzer.config.pipe(withEnv({}))
      expect(options.baseUrl).toBe("https://api.openai.com/v1")
      expect(options.model).toBe("gpt-4o-mini")
      expect(options.apiKey).toBeUndefined()
      expect(options.requestsPerMinute).toBe(60)
      expect(options.responseFormat).toBe("json_schema")
    }))

  it.effect("rejects values that make no sense, naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* OpenAiAnalyzer.config.pipe(
        withEnv({ PROFILE_INSIGHTS_OPENAI_CONCURRENCY: "0" }),
        Effect.flip
      )
      expect(String(error)).toMatch(/PROFILE_INSIGHTS_OPENAI_CONCURRENCY/)
    }))

  it.effect("refuses timeouts of zero or less and an empty model, naming the variable", () =>
    Effect.gen(function* () {
      const refused = (env: Record<string, string>) =>
        Effect.map(Effect.flip(OpenAiAnalyzer.config.pipe(withEnv(env))), String)
      for (const value of ["-5 seconds", "0", "0 seconds", "soon"]) {
        const message = yield* refused({ PROFILE_INSIGHTS_OPENAI_TIMEOUT: value })
        expect(message).toMatch(/PROFILE_INSIGHTS_OPENAI_TIMEOUT/)
        expect(message).toMatch(/expected a duration above zero/)
      }
      for (const value of ["", "   "]) {
        const message = yield* refused({ PROFILE_INSIGHTS_OPENAI_MODEL: value })
        expect(message).toMatch(/PROFILE_INSIGHTS_OPENAI_MODEL/)
        expect(message).toMatch(/empty/)
      }
      expect(yield* refused({ PROFILE_INSIGHTS_OPENAI_BREAKER_COOL_DOWN: "-1 seconds" }))
        .toMatch(/PROFILE_INSIGHTS_OPENAI_BREAKER_COOL_DOWN/)
      const ok = yield* OpenAiAnalyzer.config.pipe(
        withEnv({ PROFILE_INSIGHTS_OPENAI_TIMEOUT: "500 millis", PROFILE_INSIGHTS_OPENAI_RETRY_BASE: "0 millis" })
      )
      expect(Duration.toMillis(ok.timeout!)).toBe(500)
      expect(Duration.toMillis(ok.retryBase!)).toBe(0)
    }))

  it("the version names the model and the prompt version", () => {
    expect(OpenAiAnalyzer.versionOf("gpt-4o-mini")).toBe("openai-1/gpt-4o-mini/prompt-1")
    expect(OpenAiAnalyzer.versionOf("gpt-4o")).not.toBe(OpenAiAnalyzer.versionOf("gpt-4o-mini"))
  })
})
