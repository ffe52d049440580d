/**
 * The OpenAI-compatible analyzer against a scripted server on 127.0.0.1,
 * one scenario per test, each with the number of requests the server saw.
 * Time is the TestClock's: timeouts, backoff and Retry-After are driven in
 * steps while the HTTP is real.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import { AnalysisResult, AnalyzerError } from "../../src/index.js"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"
import * as Prompt from "../../src/analyzer/openai/Prompt.js"
import * as Fake from "../support/FakeChatServer.js"
import { analyzerFor, drive, post } from "./Harness.js"

const failureOf = <A>(exit: Exit.Exit<A, AnalyzerError>): AnalyzerError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (!(error instanceof AnalyzerError)) throw new Error(`not an AnalyzerError: ${exit.cause}`)
  return error
}

const resultOf = <A>(exit: Exit.Exit<A, AnalyzerError>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected a result: ${exit.cause}`)
  return exit.value
}

describe("OpenAiAnalyzer against a chat completions server", () => {
  it.scoped("valid JSON: one request in the chat completions wire format", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: Fake.valid })
      const analyzer = yield* analyzerFor(server, { apiKey: undefined })
      const { exit } = yield* drive(server, analyzer.analyze(post("good food #yum")))

      const result = resultOf(exit)
      expect(result).toBeInstanceOf(AnalysisResult)
      expect(result.sentiment.label).toBe("positive")
      expect(result.sentiment.reason).toBe("sentiment words found")
      expect(result.topics).toEqual([{ topic: "food", confidence: 0.9 }])
      expect(result.hashtags).toEqual(["yum"])
      expect(server.calls()).toHaveLength(1)

      const [call] = server.calls()
      expect(call!.method).toBe("POST")
      expect(call!.path).toBe("/v1/chat/completions")
      expect(call!.headers["content-type"]).toMatch(/^application\/json/)
      expect(call!.body.model).toBe("fake-model")
      expect(call!.body.messages!.map((m) => m.role)).toEqual(["system", "user"])
      expect(call!.body.response_format).toEqual({
        type: "json_schema",
        json_schema: { name: "post_analysis", strict: true, schema: Prompt.answerJsonSchema }
      })
      expect(call!.headers.authorization).toBeUndefined()

      expect(analyzer.id).toBe("openai")
      expect(analyzer.version).toBe(OpenAiAnalyzer.versionOf("fake-model"))
      expect(result.usage).toEqual({
        requests: 1,
        promptTokens: Math.ceil((call!.system.length + call!.user.length) / 4),
        completionTokens: expect.any(Number),
        costUsd: 0
      })
    }))

  it.scoped("JSON in a markdown fence is accepted: one request", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) => ({
          kind: "answer",
          content: "Here is the analysis:\n```json\n" +
            JSON.stringify(Fake.answerFor(request.caption!), null, 2) +
            "\n```\n"
        })
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("sad day")))
      expect(resultOf(exit).sentiment.label).toBe("negative")
      expect(server.calls()).toHaveLength(1)
    }))

  it.scoped("off-schema JSON: asked again twice, then InvalidOutput, not transient", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) => ({
          kind: "answer",
          content: JSON.stringify({
            ...Fake.answerFor(request.caption!),
            sentiment: { label: "ecstatic", score: 3 }
          })
        })
      })
      const analyzer = yield* analyzerFor(server, { invalidOutputRetries: 2 })
      const { exit } = yield* drive(server, analyzer.analyze(post("good food")))
      const error = failureOf(exit)
      expect(error.reason).toBe("InvalidOutput")
      expect(error.transient).toBe(false)
      expect(error.detail).toMatch(/does not fit the schema/)
      expect(error.detail).toMatch(/3 answers, none valid/)
      expect(server.calls()).toHaveLength(3)
    }))

  it.scoped("429 with Retry-After: waits as asked, then succeeds on the second request", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index === 1
            ? { kind: "status", status: 429, headers: { "retry-after": "3" } }
            : Fake.valid(request)
      })
      // Backoff alone would be 100 ms; Retry-After asks for 3 s.
      const analyzer = yield* analyzerFor(server, { retryBase: "100 millis" })
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")))
      expect(resultOf(exit).sentiment.label).toBe("positive")
      expect(server.calls()).toHaveLength(2)
      const waited = arrivals[1]! - arrivals[0]!
      expect(waited).toBeGreaterThanOrEqual(3_000 - 50)
      expect(waited).toBeLessThan(3_000 + 2_000)
    }))

  it.scoped("429 on every request: 1 + maxRetries requests, then RateLimited with the wait", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "status", status: 429, headers: { "retry-after": "2" } })
      })
      const analyzer = yield* analyzerFor(server, { maxRetries: 2 })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("RateLimited")
      expect(error.retryAfterMillis).toBe(2_000)
      expect(error.transient).toBe(true)
      expect(server.calls()).toHaveLength(3)
    }))

  it.scoped("a Retry-After beyond maxRetryAfter is not waited for: one request", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "status", status: 429, headers: { "retry-after": "600" } })
      })
      const analyzer = yield* analyzerFor(server, { maxRetryAfter: "60 seconds" })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      expect(failureOf(exit).retryAfterMillis).toBe(600_000)
      expect(server.calls()).toHaveLength(1)
    }))

  it.scoped("500: retried with backoff, 1 + maxRetries requests, then Unavailable", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "status", status: 500 })
      })
      const analyzer = yield* analyzerFor(server, { maxRetries: 2, retryBase: "100 millis" })
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("Unavailable")
      expect(error.detail).toMatch(/^500 from the server/)
      expect(server.calls()).toHaveLength(3)
      // Exponential backoff: about 100 ms, then about 200 ms (jittered).
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(50)
      expect(arrivals[2]! - arrivals[1]!).toBeGreaterThanOrEqual(150)
    }))

  it.scoped("a 500 then a valid answer: two requests, analysed", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index === 1 ? { kind: "status", status: 503 } : Fake.valid(request)
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("sad")))
      expect(resultOf(exit).sentiment.label).toBe("negative")
      expect(server.calls()).toHaveLength(2)
    }))

  it.scoped("a hang past the timeout: each request times out, 1 + maxRetries, then Timeout", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: () => ({ kind: "hang" }) })
      const analyzer = yield* analyzerFor(server, { timeout: "1 second", maxRetries: 2 })
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("Timeout")
      expect(error.transient).toBe(true)
      expect(server.calls()).toHaveLength(3)
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(1_000)
    }))

  it.scoped("a dropped connection: 1 + maxRetries requests, then Unavailable", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: () => ({ kind: "destroy" }) })
      const analyzer = yield* analyzerFor(server, { maxRetries: 2 })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("Unavailable")
      expect(error.detail).toMatch(/^no answer from http:\/\/127\.0\.0\.1/)
      expect(server.calls()).toHaveLength(3)
    }))

  it.scoped("a refusal is Rejected at once: one request", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "answer", content: null, refusal: "I can't help with that." })
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      expect(failureOf(exit).reason).toBe("Rejected")
      expect(server.calls()).toHaveLength(1)
    }))

  it.scoped("a 401 is Rejected at once with the server's message: one request", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({
          kind: "status",
          status: 401,
          body: JSON.stringify({ error: { message: "Incorrect API key provided" } })
        })
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("Rejected")
      expect(error.detail).toBe("401 from the server: Incorrect API key provided")
      expect(server.calls()).toHaveLength(1)
    }))

  it.scoped("an answer cut off at max tokens counts as off-schema", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "answer", content: "{\"rationale\": \"the post", finishReason: "length" })
      })
      const analyzer = yield* analyzerFor(server, { invalidOutputRetries: 1 })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("InvalidOutput")
      expect(error.detail).toMatch(/cut off/)
      expect(server.calls()).toHaveLength(2)
    }))

  it.scoped("a server that reports no usage: tokens estimated at 4 bytes each", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) => ({ ...Fake.valid(request), usage: null })
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const [call] = server.calls()
      const content = JSON.stringify(Fake.answerFor("good"))
      expect(resultOf(exit).usage).toEqual({
        requests: 1,
        promptTokens: Math.ceil(Buffer.byteLength(call!.system + call!.user) / 4),
        completionTokens: Math.ceil(Buffer.byteLength(content) / 4),
        costUsd: 0
      })
    }))

  it.scoped("the API key goes as a bearer token; prices give the estimated cost", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) => ({ ...Fake.valid(request), usage: { prompt: 1_000, completion: 500 } })
      })
      const analyzer = yield* analyzerFor(server, {
        apiKey: Redacted.make("sk-test"),
        promptPricePer1k: 0.15,
        completionPricePer1k: 0.6
      })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      expect(resultOf(exit).usage).toEqual({
        requests: 1,
        promptTokens: 1_000,
        completionTokens: 500,
        costUsd: 0.45
      })
      expect(server.calls()[0]!.headers.authorization).toBe("Bearer sk-test")
    }))

  it.scoped("a 200 that is not a chat completion is asked again like an off-schema answer", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: () => ({ kind: "status", status: 200, body: "<html>proxy login</html>" })
      })
      const analyzer = yield* analyzerFor(server, { invalidOutputRetries: 2 })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const error = failureOf(exit)
      expect(error.reason).toBe("InvalidOutput")
      expect(error.detail).toMatch(/not a chat completion/)
      expect(error.detail).toMatch(/3 answers, none valid/)
      expect(server.calls()).toHaveLength(3)
    }))

  it.scoped("usage with negative counts is ignored; the answer is kept", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) => ({ ...Fake.valid(request), usage: { prompt: -5, completion: -1 } })
      })
      const analyzer = yield* analyzerFor(server)
      const { exit } = yield* drive(server, analyzer.analyze(post("good")))
      const usage = resultOf(exit).usage!
      expect(usage.requests).toBe(1)
      expect(usage.promptTokens).toBeGreaterThan(0)
      expect(usage.completionTokens).toBeGreaterThan(0)
      expect(server.calls()).toHaveLength(1)
    }))

  it.scoped("a 5 MB caption is cut: a small request, and the next post is not held up", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: Fake.valid })
      // The default tokens-per-minute limit, which every job shares.
      const analyzer = yield* analyzerFor(server, { tokensPerMinute: 60_000, concurrency: 1 })
      const huge = "good ".repeat(1_000_000)
      const { exit, arrivals } = yield* drive(
        server,
        Effect.all([
          analyzer.analyze(post(huge, "huge")),
          analyzer.analyze(post("sad day", "small"))
        ], { concurrency: "unbounded" })
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      const [big, small] = server.calls()
      expect(Array.from(big!.caption!)).toHaveLength(Prompt.maxCaptionLength + 1)
      expect(big!.caption!.endsWith("…")).toBe(true)
      expect(Buffer.byteLength(JSON.stringify(big!.body))).toBeLessThan(50_000)
      expect(small!.caption).toBe("sad day")
      // Uncut, its tokens would hold the limiter for the whole minute.
      expect(arrivals[1]! - arrivals[0]!).toBeLessThan(5_000)
    }))
})
