/**
 * The circuit breaker inside the analyzer, against a scripted server and
 * on the TestClock: it opens after `breakerThreshold` consecutive failed
 * requests, sends nothing for the cool-down (a call meanwhile fails at
 * once as Unavailable with the time left, so a job hands itself back
 * rather than wait), lets one probe through, and closes again on its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, TestClock } from "effect"
import type { AnalyzerError } from "../../src/index.js"
import * as Fake from "../support/FakeChatServer.js"
import { analyzerFor, drive, post } from "./Harness.js"

const realPause = (millis: number) =>
  Effect.promise(() => new Promise<void>((r) => setTimeout(r, millis)))

/** Waits in real time (at most 5 s) until `done` holds. */
const realWaitUntil = (done: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1_000 && !done(); i++) yield* realPause(5)
    expect(done()).toBe(true)
  })

/** The messages the analyzer logs, to see the circuit's changes. */
const logs: Array<string> = []
const recorder = Logger.make(({ message }) => {
  logs.push(Array.isArray(message) ? message.join(" ") : String(message))
})

const failureOf = <A>(exit: Exit.Exit<A, AnalyzerError>): AnalyzerError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error(`expected a failure`)
  return exit.cause.error
}

describe("the analyzer's circuit breaker", () => {
  it.scoped("opens after 3 failures: refused at once with the cool-down left; one probe closes it", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index <= 3 ? { kind: "status", status: 500 } : Fake.valid(request)
      })
      const analyzer = yield* analyzerFor(server, {
        breakerThreshold: 3,
        breakerCoolDown: "10 seconds",
        maxRetries: 5,
        retryBase: "100 millis"
      })
      const { exit } = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      // Three failures open it; the retry after them is refused, not waited out.
      const error = failureOf(exit)
      expect(error.reason).toBe("Unavailable")
      expect(error.detail).toMatch(/paused after consecutive failures/)
      expect(error.retryAfterMillis).toBeGreaterThan(9_000)
      expect(error.retryAfterMillis).toBeLessThanOrEqual(10_000)
      expect(server.calls()).toHaveLength(3)

      yield* TestClock.adjust("10 seconds")
      const again = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(Exit.isSuccess(again.exit)).toBe(true)
      expect(server.calls()).toHaveLength(4)
    }))

  it.scoped("a failed probe opens it for another cool-down", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index <= 4 ? { kind: "status", status: 502 } : Fake.valid(request)
      })
      const analyzer = yield* analyzerFor(server, {
        breakerThreshold: 3,
        breakerCoolDown: "10 seconds",
        maxRetries: 6,
        retryBase: "100 millis"
      })
      const first = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(failureOf(first.exit).retryAfterMillis).toBeGreaterThan(9_000)
      expect(server.calls()).toHaveLength(3)

      // The probe fails: open again, refused with a whole cool-down left.
      yield* TestClock.adjust("10 seconds")
      const second = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(failureOf(second.exit).retryAfterMillis).toBeGreaterThan(9_000)
      expect(server.calls()).toHaveLength(4)

      yield* TestClock.adjust("10 seconds")
      const third = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(Exit.isSuccess(third.exit)).toBe(true)
      expect(server.calls()).toHaveLength(5)
    }))

  it.scoped("while open, other posts are refused without requests; then one probe; then all proceed", () =>
    Effect.gen(function* () {
      let releaseProbe: (() => void) | undefined
      const probeHeld = new Promise<void>((r) => (releaseProbe = r))
      const server = yield* Fake.scoped({
        script: async (request) => {
          if (request.index <= 2) return { kind: "status", status: 500 }
          if (request.index === 3) await probeHeld
          return Fake.valid(request)
        }
      })
      const analyzer = yield* analyzerFor(server, {
        breakerThreshold: 2,
        breakerCoolDown: "10 seconds",
        maxRetries: 3,
        retryBase: "100 millis"
      })
      // The second 500 opens the circuit; the retry after it is refused.
      const first = yield* drive(server, analyzer.analyze(post("good", "p1")), "100 millis")
      expect(failureOf(first.exit).reason).toBe("Unavailable")
      expect(logs.filter((m) => m.startsWith("circuit opened"))).toHaveLength(1)

      // The circuit is open: these end at once and send nothing.
      const refused = yield* Effect.all(
        ["sad", "good food", "great"].map((c, i) =>
          Effect.exit(analyzer.analyze(post(c, `p${i + 2}`)))
        ),
        { concurrency: "unbounded" }
      )
      for (const exit of refused) {
        expect(failureOf(exit).retryAfterMillis).toBeGreaterThan(9_000)
      }
      expect(server.calls()).toHaveLength(2)

      // After the cool-down exactly one request, the probe, goes out; the
      // others wait for its outcome.
      yield* TestClock.adjust("10 seconds")
      const others = yield* Effect.fork(
        Effect.all(
          ["good", "sad", "good food", "great"].map((c, i) =>
            analyzer.analyze(post(c, `p${i + 1}`))
          ),
          { concurrency: "unbounded" }
        )
      )
      yield* realWaitUntil(() => server.calls().length === 3)
      yield* realPause(50)
      expect(server.calls()).toHaveLength(3)

      releaseProbe!()
      const results = yield* Fiber.join(others)
      expect(results.map((r) => r.sentiment.label)).toEqual([
        "positive", "negative", "positive", "positive"
      ])
      expect(server.calls()).toHaveLength(6)
      expect(logs.filter((m) => m.startsWith("circuit closed"))).toHaveLength(1)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, recorder))))

  it.scoped("429s do not open it", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index <= 3
            ? { kind: "status", status: 429, headers: { "retry-after": "1" } }
            : Fake.valid(request)
      })
      const analyzer = yield* analyzerFor(server, {
        breakerThreshold: 2,
        breakerCoolDown: "10 seconds",
        maxRetries: 3
      })
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(server.calls()).toHaveLength(4)
      expect(arrivals[3]! - arrivals[0]!).toBeLessThan(10_000)
    }))
})
