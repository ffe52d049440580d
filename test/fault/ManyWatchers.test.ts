/**
 * Fifty watchers on Postgres, ten on each of five jobs that end at
 * different times: every watcher sees its job's terminal state, woken by
 * notifications (their poll interval is longer than the test), and Node
 * warns of no leaked listeners.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { PgStorage } from "../../adapters/postgres/index.js"
import { Insights } from "../../src/index.js"
import { libraryLayer, ownProfile } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { freshPostgresDatabase, postgresAvailable } from "../support/Storage.js"

const watchersPerJob = 10

/** The names of the warnings the process emits while `body` runs. */
const warningsDuring = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const names: Array<string> = []
      const onWarning = (warning: Error) => names.push(warning.name)
      process.on("warning", onWarning)
      return { names, onWarning }
    }),
    ({ names }) =>
      Effect.map(body, (value) => ({ value, warnings: names })),
    // Warnings are emitted on the next tick; let them arrive first.
    ({ onWarning }) =>
      Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50))).pipe(
        Effect.zipRight(Effect.sync(() => process.off("warning", onWarning)))
      )
  )

describe.skipIf(!postgresAvailable)("many watchers on Postgres", () => {
  it.live("50 watchers share one listener and all see the terminal state", () =>
    Effect.gen(function* () {
      const url = yield* Effect.promise(freshPostgresDatabase)
      const analyzer = yield* ScriptedAnalyzer.make()
      const library = libraryLayer(PgStorage.layer({ url }), analyzer.layer, {
        jobConcurrency: 5,
        repair: false
      })
      const { value: seen, warnings } = yield* warningsDuring(
        Effect.gen(function* () {
          const api = yield* Insights.Insights
          // Job n has n + 1 posts of 300 ms: the jobs end one after another.
          const jobs = yield* Effect.forEach([0, 1, 2, 3, 4], (n) =>
            api.importProfile(
              "alice",
              ownProfile(`watched-${n}`, Array.from({ length: n + 1 }, (_, i) => `slow-300 ${i}`))
            ).pipe(Effect.flatMap((saved) => api.submit("alice", saved.profile.id)))
          )
          const startedAt = Date.now()
          const finished = yield* Effect.forEach(
            jobs.flatMap((job) => Array.from({ length: watchersPerJob }, () => job)),
            (job) => api.awaitJob("alice", job.id, { interval: "1 minute" }),
            { concurrency: "unbounded" }
          ).pipe(Effect.timeout("30 seconds"))
          return { finished, jobs, elapsed: Date.now() - startedAt }
        }).pipe(Effect.provide(library))
      )
      expect(warnings).toEqual([])
      expect(seen.finished).toHaveLength(50)
      expect(seen.finished.map((job) => [job.status, job.done, job.total])).toEqual(
        seen.jobs.flatMap((_, n) =>
          Array.from({ length: watchersPerJob }, () => ["succeeded", n + 1, n + 1])
        )
      )
      // No watcher waited for its one-minute poll.
      expect(seen.elapsed).toBeLessThan(20_000)
    }), 60_000)
})
