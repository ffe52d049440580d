import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Schedule, Stream } from "effect"
import { Insights } from "../src/index.js"
import * as ScriptedAnalyzer from "./support/ScriptedAnalyzer.js"
import { libraryLayer, ownProfile, twelveCaptions } from "./support/Fixtures.js"
import { storages } from "./support/Storage.js"

describe.each(storages.filter((s) => s.available))("the pipeline on $name", (storage) => {
  const withLibrary = <A, E>(
    body: (
      api: Insights.InsightsShape,
      analyzer: ScriptedAnalyzer.ScriptedAnalyzer
    ) => Effect.Effect<A, E, never>
  ) =>
    Effect.gen(function* () {
      const analyzer = yield* ScriptedAnalyzer.make()
      const database = yield* storage.fresh
      return yield* Effect.flatMap(Insights.Insights, (api) => body(api, analyzer)).pipe(
        Effect.provide(libraryLayer(database(), analyzer.layer))
      )
    })

  it.live("a job survives its submitter being interrupted 1 ms after submit", () =>
    withLibrary((api) =>
      Effect.gen(function* () {
        const { profile } = yield* api.importProfile("alice", ownProfile("cook", twelveCaptions))
        const entered = yield* Deferred.make<void>()
        const caller = yield* Effect.fork(
          Deferred.succeed(entered, undefined).pipe(
            Effect.zipRight(api.submit("alice", profile.id)),
            Effect.zipRight(Effect.never)
          )
        )
        yield* Deferred.await(entered)
        yield* Effect.sleep("1 millis")
        const callerExit = yield* Fiber.interrupt(caller)
        expect(Exit.isInterrupted(callerExit)).toBe(true)

        const job = yield* api.latestJob("alice", profile.id).pipe(Effect.map(Option.getOrThrow))
        const done = yield* api.awaitJob("alice", job.id)
        expect(done.status).toBe("succeeded")
        expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")

        const insights = yield* api.insights("alice", profile.id)
        expect(insights.posts).toEqual({ total: 12, analysed: 12, failed: 0 })
        expect(insights.sentiment.distribution).toEqual({
          positive: 8,
          neutral: 0,
          negative: 4,
          notComputed: 0
        })
        expect(insights.watermark.analyses).toBe(12)
      })
    )
  )

  it.live("interrupting the submitter at any moment leaves no job or a finished one", () =>
    withLibrary((api) =>
      Effect.gen(function* () {
        for (const delay of [0, 1, 2, 3, 5, 8]) {
          const handle = `moment-${delay}`
          const { profile } = yield* api.importProfile("alice", ownProfile(handle, twelveCaptions))
          const caller = yield* Effect.fork(api.submit("alice", profile.id))
          yield* Effect.sleep(delay)
          yield* Fiber.interrupt(caller)
          const job = yield* api.latestJob("alice", profile.id)
          if (Option.isSome(job)) {
            const done = yield* api.awaitJob("alice", job.value.id)
            expect(done.status).toBe("succeeded")
            expect(yield* api.insights("alice", profile.id)).toHaveProperty("posts.total", 12)
          }
        }
      })
    )
  )

  it.live("a post that fails for good is recorded and the job still finishes", () =>
    withLibrary((api, analyzer) =>
      Effect.gen(function* () {
        const captions = twelveCaptions.map((c, i) =>
          i === 4 ? "this one will fail-forever" : i === 7 ? "good food flaky-2" : c
        )
        const { profile } = yield* api.importProfile("alice", ownProfile("shaky", captions))
        const submitted = yield* api.submit("alice", profile.id)
        const done = yield* api.awaitJob("alice", submitted.id)

        expect(done.status).toBe("succeeded")
        expect([done.done, done.failed, done.total]).toEqual([11, 1, 12])
        expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")
        const insights = yield* api.insights("alice", profile.id)
        expect(insights.posts).toEqual({ total: 12, analysed: 11, failed: 1 })
        expect(insights.failures).toEqual([
          {
            postId: expect.any(String),
            platformPostId: "shaky-5",
            reason: "Rejected",
            message: "scripted rejection"
          }
        ])
        const calls = yield* analyzer.calls
        // Rejections are not retried; the flaky post needed two retries.
        expect(calls.filter((c) => c.includes("fail-forever"))).toHaveLength(1)
        expect(calls.filter((c) => c.includes("flaky-2"))).toHaveLength(3)
        expect(calls).toHaveLength(14)
      })
    )
  )

  it.live("two submits at once return one job", () =>
    withLibrary((api) =>
      Effect.gen(function* () {
        const { profile } = yield* api.importProfile("alice", ownProfile("twice", twelveCaptions))
        const [a, b] = yield* Effect.all(
          [api.submit("alice", profile.id), api.submit("alice", profile.id)],
          { concurrency: 2 }
        )
        expect(a.id).toBe(b.id)
        yield* api.awaitJob("alice", a.id)
      })
    )
  )

  it.live("another owner sees neither the job nor the insights", () =>
    withLibrary((api) =>
      Effect.gen(function* () {
        const { profile } = yield* api.importProfile("alice", ownProfile("private", twelveCaptions))
        const job = yield* api.submit("alice", profile.id)
        yield* api.awaitJob("alice", job.id)
        const status = yield* Effect.flip(api.status("mallory", job.id))
        expect(status).toMatchObject({ _tag: "NotFound", entity: "job" })
        const insights = yield* Effect.flip(api.insights("mallory", profile.id))
        expect(insights).toMatchObject({ _tag: "NotFound", entity: "insights" })
        const submit = yield* Effect.flip(api.submit("mallory", profile.id))
        expect(submit).toMatchObject({ _tag: "NotFound", entity: "profile" })
        const cancel = yield* Effect.flip(api.cancel("mallory", job.id))
        expect(cancel).toMatchObject({ _tag: "NotFound" })
      })
    )
  )

  it.live("a refresh analyses only new and changed posts", () =>
    withLibrary((api, analyzer) =>
      Effect.gen(function* () {
        const first = ownProfile("refresh", twelveCaptions)
        const { profile } = yield* api.importProfile("alice", first)
        yield* api.awaitJob("alice", (yield* api.submit("alice", profile.id)).id)
        expect(yield* analyzer.calls).toHaveLength(12)

        const second = ownProfile("refresh", [
          ...twelveCaptions.slice(0, 11),
          "new caption",
          "another food post"
        ])
        const saved = yield* api.importProfile("alice", second)
        expect([saved.added, saved.changed, saved.removed]).toEqual([1, 1, 0])
        const refresh = yield* api.submit("alice", profile.id, { kind: "refresh" })
        const done = yield* api.awaitJob("alice", refresh.id)
        expect(done.progressLine).toBe("Progress: 100% (13/13 posts processed)")
        expect(yield* analyzer.calls).toHaveLength(14)
        const insights = yield* api.insights("alice", profile.id)
        expect(insights.posts.total).toBe(13)
      })
    )
  )

  it.live("watch emits growing progress and ends at the terminal state", () =>
    withLibrary((api) =>
      Effect.gen(function* () {
        const captions = twelveCaptions.map((c) => `${c} slow-20`)
        const { profile } = yield* api.importProfile("alice", ownProfile("watched", captions))
        const job = yield* api.submit("alice", profile.id)
        const seen = [
          ...(yield* Stream.runCollect(api.watch("alice", job.id, { interval: "10 millis" })))
        ]
        const last = seen[seen.length - 1]!
        expect(last.status).toBe("succeeded")
        const processed = seen.map((j) => j.processed)
        expect(processed).toEqual([...processed].sort((a, b) => a - b))
        expect(seen.length).toBeGreaterThan(2)
      })
    )
  )

  it.live("closing the runner hands a running job back, and the next runner finishes it", () =>
    Effect.gen(function* () {
      const database = yield* storage.fresh
      const captions = twelveCaptions.map((c) => `${c} slow-40`)
      const analyzer = yield* ScriptedAnalyzer.make()
      const layer = libraryLayer(database(), analyzer.layer, { postConcurrency: 1 })

      const jobId = yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const { profile } = yield* api.importProfile("alice", ownProfile("stop", captions))
        const job = yield* api.submit("alice", profile.id)
        // Wait until a few posts are checkpointed, then close the layer.
        yield* api.status("alice", job.id).pipe(
          Effect.repeat({ until: (j) => j.done >= 3, schedule: Schedule.spaced("10 millis") })
        )
        return job.id
      }).pipe(Effect.provide(layer))

      const handedBack = yield* Effect.flatMap(Insights.Insights, (api) =>
        api.status("alice", jobId)
      ).pipe(Effect.provide(Insights.layerWithoutRunner.pipe(Layer.provide(database()))))
      expect(handedBack.status).toBe("queued")
      expect(handedBack.leaseHolder).toBeNull()
      expect(handedBack.done).toBeGreaterThanOrEqual(3)

      const finished = yield* Effect.flatMap(Insights.Insights, (api) =>
        api.awaitJob("alice", jobId)
      ).pipe(Effect.provide(layer))
      expect(finished.status).toBe("succeeded")
      expect(finished.progressLine).toBe("Progress: 100% (12/12 posts processed)")
      // Each post analysed once, but for the one in flight at shutdown.
      const calls = yield* analyzer.calls
      expect(calls.length).toBeGreaterThanOrEqual(12)
      expect(calls.length).toBeLessThanOrEqual(13)
    })
  )
})
