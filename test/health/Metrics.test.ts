/**
 * The metrics after real runs of the library with the scripted analyzer,
 * on every adapter. The registry is the process's: each test compares
 * values before and after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Metric, Stream, TestClock } from "effect"
import { Insights, JobStore } from "../../src/index.js"
import * as Metrics from "../../src/Metrics.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { libraryLayer, ownProfile, twelveCaptions } from "../support/Fixtures.js"
import { storages } from "../support/Storage.js"
import { counterValue, profileWith, storesLayer } from "./Support.js"

const counters = {
  claimed: Metrics.jobsClaimed,
  succeeded: Metrics.jobsSucceeded,
  failed: Metrics.jobsFailed,
  retried: Metrics.jobsRetried,
  handedBack: Metrics.jobsHandedBack,
  postsAnalysed: Metrics.postsAnalysed,
  postsFailed: Metrics.postsFailed
}

const readAll = Effect.gen(function* () {
  const values: Record<string, number> = {}
  for (const [name, counter] of Object.entries(counters)) {
    values[name] = yield* counterValue(counter)
  }
  values.analyzerCalls = (yield* Metric.value(Metrics.analyzerDuration)).count
  values.analyzerRecent = (yield* Metric.value(Metrics.analyzerDurationRecent)).count
  values.checkpoints = (yield* Metric.value(Metrics.checkpointDuration)).count
  return values
})

const delta = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const before = yield* readAll
    const result = yield* body
    const after = yield* readAll
    const change = Object.fromEntries(
      Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)])
    )
    return [change, result] as const
  })

describe.each(storages.filter((s) => s.available))("metrics on $name", (storage) => {
  it.live("count a run: claims, outcome, posts, analyzer calls and checkpoints", () =>
    Effect.gen(function* () {
      const analyzer = yield* ScriptedAnalyzer.make()
      const database = yield* storage.fresh
      const captions = twelveCaptions.map((c, i) =>
        i === 4 ? "this one will fail-forever" : i === 7 ? "good food flaky-2" : c
      )
      const [change, done] = yield* delta(
        Effect.gen(function* () {
          const api = yield* Insights.Insights
          const { profile } = yield* api.importProfile("alice", ownProfile("counted", captions))
          const job = yield* api.submit("alice", profile.id)
          return yield* api.awaitJob("alice", job.id)
        }).pipe(Effect.provide(libraryLayer(database(), analyzer.layer)))
      )
      expect(done.status).toBe("succeeded")
      // Checkpoints are transactions, of one post or of a group.
      const { checkpoints, ...counts } = change
      expect(checkpoints).toBeGreaterThanOrEqual(1)
      expect(checkpoints).toBeLessThanOrEqual(12)
      expect(counts).toEqual({
        claimed: 1,
        succeeded: 1,
        failed: 0,
        retried: 0,
        handedBack: 0,
        postsAnalysed: 11,
        postsFailed: 1,
        // 12 posts, two retries of the flaky one.
        analyzerCalls: 14,
        analyzerRecent: 14
      })
      expect((yield* Metrics.recentAnalyzerLatency).p50).not.toBeNull()
    })
  )

  it.live("count a job handed back when its runner stops", () =>
    Effect.gen(function* () {
      const analyzer = yield* ScriptedAnalyzer.make()
      const database = yield* storage.fresh
      const slow = Array.from({ length: 8 }, (_, i) => `slow-100 post ${i}`)
      const [change] = yield* delta(
        Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(
              libraryLayer(database(), analyzer.layer, { postConcurrency: 1 })
            )
            const api = Context.get(context, Insights.Insights)
            const { profile } = yield* api.importProfile("alice", ownProfile("stopped", slow))
            const job = yield* api.submit("alice", profile.id)
            yield* api.watch("alice", job.id, { interval: "10 millis" }).pipe(
              Stream.takeUntil((j) => j.done >= 1),
              Stream.runDrain
            )
          })
        )
      )
      expect(change).toMatchObject({ claimed: 1, handedBack: 1, succeeded: 0, failed: 0 })
      expect(change.postsAnalysed).toBeGreaterThanOrEqual(1)
    })
  )

  it.effect("trackSubmit counts a submit that records a job, not one that finds it", () =>
    Effect.gen(function* () {
      const database = yield* storage.fresh
      yield* Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("tracked")
        const before = yield* counterValue(Metrics.jobsSubmitted)
        const submit = Metrics.trackSubmit(
          jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        )
        const first = yield* submit
        // A submit that finds a job created in the same millisecond as it
        // started counts too (see trackSubmit); a real clock moves on.
        yield* TestClock.adjust("1 millis")
        const second = yield* submit
        expect(second.id).toBe(first.id)
        expect((yield* counterValue(Metrics.jobsSubmitted)) - before).toBe(1)
      }).pipe(Effect.provide(storesLayer(database())))
    })
  )
})
