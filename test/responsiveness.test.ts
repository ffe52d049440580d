/**
 * The embedded analyzer is CPU work and SQLite is a synchronous driver: a
 * job must still leave the event loop to the host between posts, so its
 * timers fire, status answers and a cancel lands mid-run.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { EmbeddedAnalyzer, Insights } from "../src/index.js"
import { libraryLayer, ownProfile } from "./support/Fixtures.js"
import { sqlite } from "./support/Storage.js"

const captions = Array.from(
  { length: 800 },
  (_, i) => `Day ${i}: lovely brunch with friends, great coffee and fresh pastries #food #brunch`
)

describe("a long job on SQLite with the embedded analyzer", () => {
  it.live("keeps the event loop turning and can be cancelled mid-run", () =>
    Effect.gen(function* () {
      const database = yield* sqlite.fresh
      const layer = libraryLayer(database(), EmbeddedAnalyzer.layer, { postConcurrency: 4 })
      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("long", captions))

        let last = performance.now()
        let maxGap = 0
        const timer = setInterval(() => {
          const now = performance.now()
          maxGap = Math.max(maxGap, now - last)
          last = now
        }, 5)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(timer)))

        const started = performance.now()
        const job = yield* api.submit("alice", profile.id)
        yield* api.status("alice", job.id).pipe(
          Effect.repeat({ until: (j) => j.processed >= 100, schedule: Schedule.spaced("20 millis") }),
          Effect.timeout("30 seconds")
        )
        const cancelled = yield* api.cancel("alice", job.id)
        expect(cancelled.status).toBe("cancelled")
        const final = yield* api.awaitJob("alice", job.id)
        expect(final.status).toBe("cancelled")
        expect(final.processed).toBeLessThan(800)
        // A blocked loop shows one gap as long as the run itself; a busy
        // machine stretches gaps too, so the bound is a share of the run.
        const run = performance.now() - started
        expect(maxGap).toBeLessThan(Math.max(500, run / 4))
      }).pipe(Effect.scoped, Effect.provide(layer))
    })
  )
})

