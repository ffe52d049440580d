/**
 * A request handler submits a job and is interrupted at once (the client
 * went away): the job still runs to the end with an aggregate, and the
 * handler leaves no connection behind: nothing busy while the layer
 * lives, nothing at all once it is closed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { Insights } from "../../src/index.js"
import { busy, pgProbe, sqliteWriteLockFree } from "../support/ConnectionProbe.js"
import { adapters } from "../support/FaultDatabase.js"
import { libraryLayer, ownProfile, twelveCaptions } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { waitUntil } from "../support/WorkerProcess.js"

/** How long after the handler starts it is interrupted; 0: at once. */
const moments = [0, 0, 1, 3]

describe.each(adapters)("a submitter interrupted at once on $name", (adapter) => {
  it.live("the job finishes with its aggregate and no connection stays in use", () =>
    Effect.gen(function* () {
      const database = yield* adapter.fresh
      const spec = database.spec
      const probe = spec.kind === "postgres" ? yield* pgProbe(spec.url) : undefined
      const lockFree = spec.kind === "sqlite"
        ? sqliteWriteLockFree(spec.filename)
        : Effect.succeed(true)
      const analyzer = yield* ScriptedAnalyzer.make()
      const captions = twelveCaptions.map((c) => `${c} slow-20`)
      const layer = libraryLayer(database.layer({ maxConnections: 4 }), analyzer.layer)

      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const finishTimes: Array<number> = []
        for (const [i, moment] of moments.entries()) {
          const { profile } = yield* api.importProfile("alice", ownProfile(`gone-${i}`, captions))
          const entered = yield* Deferred.make<void>()
          const handler = yield* Effect.fork(
            Deferred.succeed(entered, undefined).pipe(
              Effect.zipRight(api.submit("alice", profile.id)),
              Effect.flatMap((job) => api.awaitJob("alice", job.id))
            )
          )
          yield* Deferred.await(entered)
          if (moment > 0) yield* Effect.sleep(moment)
          expect(Exit.isInterrupted(yield* Fiber.interrupt(handler))).toBe(true)
          const interruptedAt = Date.now()

          const job = Option.getOrThrow(yield* api.latestJob("alice", profile.id))
          const done = yield* waitUntil(
            `job ${i + 1} to succeed`,
            api.status("alice", job.id),
            (j) => j.status === "succeeded",
            { timeout: "10 seconds" }
          )
          finishTimes.push(Date.now() - interruptedAt)
          expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")
          const insights = yield* api.insights("alice", profile.id)
          expect(insights.posts).toEqual({ total: 12, analysed: 12, failed: 0 })
          expect(insights.watermark.analyses).toBe(12)
        }
        expect(yield* analyzer.calls).toHaveLength(12 * moments.length)
        console.log(
          `[${adapter.name}] interrupted after ${moments.join("/")} ms: ` +
            `jobs succeeded ${finishTimes.join("/")} ms after the interrupt`
        )

        // The runner still polls, so a short transaction may show up in a
        // sample; a connection held by the interrupted handler would stay.
        if (probe !== undefined) {
          yield* waitUntil(
            "no connection of the pool to be in use",
            probe.backends,
            (backends) => busy(backends).length === 0,
            { timeout: "3 seconds", interval: "20 millis" }
          )
          expect(
            (yield* probe.backends).filter((b) => b.state !== "idle" && b.stateAgeMillis > 1000)
          ).toEqual([])
        }
        yield* waitUntil("the SQLite write lock to be free", lockFree, (free) => free, {
          timeout: "3 seconds",
          interval: "20 millis"
        })
      }).pipe(Effect.provide(layer))

      if (probe !== undefined) {
        const left = yield* waitUntil(
          "the pool's connections to close",
          probe.backends,
          (backends) => backends.length === 0,
          { timeout: "3 seconds", interval: "20 millis" }
        )
        expect(left).toEqual([])
      }
      expect(yield* lockFree).toBe(true)
    }).pipe(Effect.scoped), { timeout: 45_000 })
})
