/**
 * The circuit breaker inside the analyzer, against a scripted server and
 * on the TestClock: it opens after `breakerThreshold` consecutive failed
 * requests, sends nothing for the cool-down (a call meanwhile is refused
 * with the time left, and the analyzer retries after that long), lets one
 * probe through, and closes again on its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, TestClock } from "effect"
import * as Fake from "../support/FakeChatServer.js"
import { analyzerFor, drive, post, stepUntil } from "./Harness.js"

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

describe("the analyzer's circuit breaker", () => {
  it.scoped("opens after 3 failures, pauses 10 s, probes once, closes", () =>
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
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(Exit.isSuccess(exit)).toBe(true)
      // Three failures, then the probe only after the cool-down.
      expect(server.calls()).toHaveLength(4)
      expect(arrivals[3]! - arrivals[2]!).toBeGreaterThanOrEqual(10_000 - 100)
      expect(arrivals[3]! - arrivals[2]!).toBeLessThan(10_000 + 2_000)
    }))

  it.scoped("a failed probe opens it for another cool-down", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({
        script: (request) =>
          request.index <= 4 ? { kind: "status", status: 502 } : Fake.valid(request)
      })
      // Attempts: 3 failures, refused, failed probe, refused, probe.
      const analyzer = yield* analyzerFor(server, {
        breakerThreshold: 3,
        breakerCoolDown: "10 seconds",
        maxRetries: 6,
        retryBase: "100 millis"
      })
      const { exit, arrivals } = yield* drive(server, analyzer.analyze(post("good")), "100 millis")
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(server.calls()).toHaveLength(5)
      expect(arrivals[3]! - arrivals[2]!).toBeGreaterThanOrEqual(10_000 - 100)
      expect(arrivals[4]! - arrivals[3]!).toBeGreaterThanOrEqual(10_000 - 100)
    }))

  it.scoped("while open, other posts wait without requests; one probe; then all proceed", () =>
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
      const first = yield* Effect.fork(analyzer.analyze(post("good", "p1")))
      yield* stepUntil(() => server.calls().length === 2)
      // The second 500 reaches the client and opens the circuit.
      yield* realWaitUntil(() => logs.some((m) => m.startsWith("circuit opened")))
      // The circuit is open: these start now but send nothing.
      const others = yield* Effect.fork(
        Effect.all(
          ["sad", "good food", "great"].map((c, i) => analyzer.analyze(post(c, `p${i + 2}`))),
          { concurrency: "unbounded" }
        )
      )
      expect(logs.filter((m) => m.startsWith("circuit opened"))).toHaveLength(1)
      yield* TestClock.adjust("9 seconds")
      yield* realPause(50)
      expect(server.calls()).toHaveLength(2)

      // After the cool-down exactly one request, the probe, goes out.
      yield* stepUntil(() => server.calls().length === 3, "100 millis")
      yield* TestClock.adjust("5 seconds")
      yield* realPause(50)
      expect(server.calls()).toHaveLength(3)

      releaseProbe!()
      yield* Effect.promise(() => server.awaitCalls(6))
      const [results, firstResult] = yield* Effect.all([Fiber.join(others), Fiber.join(first)])
      expect(results.map((r) => r.sentiment.label)).toEqual(["negative", "positive", "positive"])
      expect(firstResult.sentiment.label).toBe("positive")
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
