/**
 * The job store's contract, written once and run against every adapter.
 * Time is the test's clock: leases expire by adjusting it, not by waiting.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema, TestClock } from "effect"
import {
  Insights,
  JobStore,
  PostAnalysis,
  ProfileImport,
  ProfileStore
} from "../../src/index.js"
import { ownProfile } from "../support/Fixtures.js"
import { storages } from "../support/Storage.js"

describe.each(storages.filter((s) => s.available))("JobStore on $name", (storage) => {
  const withStores = <A, E>(
    body: Effect.Effect<A, E, JobStore.JobStore | ProfileStore.ProfileStore>
  ) =>
    Effect.gen(function* () {
      const database = yield* storage.fresh
      return yield* body.pipe(
        Effect.provide(Insights.layerWithoutRunner.pipe(Layer.provide(database())))
      )
    })

  const profileWith = (handle: string, posts = 3) =>
    Effect.flatMap(ProfileStore.ProfileStore, (profiles) =>
      Effect.map(
        profiles.save(
          "alice",
          decode(ownProfile(handle, Array.from({ length: posts }, (_, i) => `post ${i}`)))
        ),
        (saved) => saved.profile.id
      )
    )

  it.effect("claims by priority, then age, and only when due", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const [a, b, c] = yield* Effect.all([profileWith("a"), profileWith("b"), profileWith("c")])
        const low = yield* jobs.submit({ owner: "alice", profileId: a, kind: "analyze" })
        yield* TestClock.adjust("1 second")
        const high = yield* jobs.submit({
          owner: "alice",
          profileId: b,
          kind: "analyze",
          priority: 5
        })
        const later = yield* jobs.submit({
          owner: "alice",
          profileId: c,
          kind: "analyze",
          priority: 9,
          runAfter: new Date(60_000)
        })
        const first = yield* jobs.claim("r1", 10_000)
        const second = yield* jobs.claim("r1", 10_000)
        const third = yield* jobs.claim("r1", 10_000)
        expect(Option.map(first, (j) => j.id)).toEqual(Option.some(high.id))
        expect(Option.map(second, (j) => j.id)).toEqual(Option.some(low.id))
        expect(third).toEqual(Option.none())
        yield* TestClock.adjust("1 minute")
        const due = yield* jobs.claim("r1", 10_000)
        expect(Option.map(due, (j) => j.id)).toEqual(Option.some(later.id))
        expect(Option.map(due, (j) => [j.status, j.epoch, j.attempt, j.leaseHolder])).toEqual(
          Option.some(["running", 1, 1, "r1"])
        )
      })
    )
  )

  it.effect("reclaims an expired lease with a new epoch and fences the old holder", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profiles = yield* ProfileStore.ProfileStore
        const profileId = yield* profileWith("fenced")
        yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        const first = Option.getOrThrow(yield* jobs.claim("r1", 5_000))
        expect(yield* jobs.claim("r2", 5_000)).toEqual(Option.none())

        yield* TestClock.adjust("6 seconds")
        const second = Option.getOrThrow(yield* jobs.claim("r2", 5_000))
        expect([second.id, second.epoch, second.attempt, second.leaseHolder]).toEqual([
          first.id,
          2,
          2,
          "r2"
        ])

        const stale = { jobId: first.id, epoch: first.epoch }
        const posts = yield* profiles.posts(profileId)
        const analysis = failedAnalysis(posts[0]!.id)
        for (const write of [
          jobs.heartbeat(stale, 5_000),
          jobs.begin(stale, { total: 3, done: 0, failed: 0 }),
          jobs.checkpoint(stale, profileId, analysis),
          jobs.retry(stale, "late", new Date(0)),
          jobs.fail(stale, "late"),
          jobs.handBack(stale)
        ]) {
          expect(yield* Effect.flip(write)).toMatchObject({ _tag: "LeaseLost", epoch: 1 })
        }
        expect(yield* profiles.analyses(profileId, "v1")).toEqual([])

        const current = { jobId: second.id, epoch: second.epoch }
        yield* jobs.checkpoint(current, profileId, analysis)
        const job = yield* jobs.get("alice", second.id)
        expect([job.status, job.failed, job.leaseHolder]).toEqual(["running", 1, "r2"])
      })
    )
  )

  it.effect("a checkpoint of an already analysed post does not count twice", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profiles = yield* ProfileStore.ProfileStore
        const profileId = yield* profileWith("twice")
        yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        const job = Option.getOrThrow(yield* jobs.claim("r1", 5_000))
        const lease = { jobId: job.id, epoch: job.epoch }
        const post = (yield* profiles.posts(profileId))[0]!
        yield* jobs.checkpoint(lease, profileId, failedAnalysis(post.id))
        yield* jobs.checkpoint(lease, profileId, failedAnalysis(post.id))
        expect((yield* jobs.get("alice", job.id)).failed).toBe(1)
        expect(yield* profiles.analyses(profileId, "v1")).toHaveLength(1)
      })
    )
  )

  it.effect("terminal states never change, and a cancelled job fences its runner", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("cancelled")
        const submitted = yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        const job = Option.getOrThrow(yield* jobs.claim("r1", 5_000))
        const lease = { jobId: job.id, epoch: job.epoch }

        const cancelled = yield* jobs.cancel("alice", submitted.id)
        expect(cancelled.status).toBe("cancelled")
        const lost = { _tag: "LeaseLost" }
        expect(yield* Effect.flip(jobs.heartbeat(lease, 5_000))).toMatchObject(lost)
        expect(yield* Effect.flip(jobs.fail(lease, "too late"))).toMatchObject(lost)
        expect((yield* jobs.cancel("alice", submitted.id)).status).toBe("cancelled")
        yield* TestClock.adjust("1 hour")
        expect(yield* jobs.claim("r2", 5_000)).toEqual(Option.none())
        expect((yield* jobs.get("alice", submitted.id)).status).toBe("cancelled")

        // The profile is free for a new job.
        const next = yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        expect(next.id).not.toBe(submitted.id)
      })
    )
  )

  it.effect("retry puts a job back after its run-after time; fail ends it with its error", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("retried")
        yield* jobs.submit({ owner: "alice", profileId, kind: "analyze", maxAttempts: 2 })
        const first = Option.getOrThrow(yield* jobs.claim("r1", 5_000))
        yield* jobs.retry({ jobId: first.id, epoch: first.epoch }, "store down", new Date(30_000))
        expect(yield* jobs.claim("r1", 5_000)).toEqual(Option.none())
        yield* TestClock.adjust("31 seconds")
        const second = Option.getOrThrow(yield* jobs.claim("r1", 5_000))
        expect([second.attempt, second.lastError]).toEqual([2, "store down"])
        yield* jobs.fail({ jobId: second.id, epoch: second.epoch }, "still down")
        const failed = yield* jobs.get("alice", second.id)
        expect([failed.status, failed.lastError, failed.leaseHolder]).toEqual([
          "failed",
          "still down",
          null
        ])
        expect(failed.finishedAt).not.toBeNull()
      })
    )
  )

  it.effect("hand back requeues at once without spending an attempt", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("handed")
        yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        const job = Option.getOrThrow(yield* jobs.claim("r1", 60_000))
        yield* jobs.handBack({ jobId: job.id, epoch: job.epoch })
        const again = Option.getOrThrow(yield* jobs.claim("r2", 60_000))
        expect([again.id, again.attempt, again.epoch, again.leaseHolder]).toEqual([
          job.id,
          1,
          2,
          "r2"
        ])
      })
    )
  )

  it.effect("single-flight holds per profile and kind", () =>
    withStores(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("single")
        const submits = yield* Effect.all(
          Array.from({ length: 8 }, () =>
            jobs.submit({ owner: "alice", profileId, kind: "analyze" })
          ),
          { concurrency: "unbounded" }
        )
        expect(new Set(submits.map((j) => j.id)).size).toBe(1)
        const other = yield* jobs.submit({ owner: "alice", profileId, kind: "reaggregate" })
        expect(other.id).not.toBe(submits[0]!.id)
        expect(submits[0]!.total).toBe(3)
      })
    )
  )
})

const decode = (content: unknown) => Schema.decodeUnknownSync(ProfileImport)(content)

const failedAnalysis = (postId: string) =>
  new PostAnalysis({
    postId,
    analyzerId: "test",
    analyzerVersion: "v1",
    outcome: {
      _tag: "Failed",
      failure: { reason: "Rejected", message: "test", attempts: 1 }
    },
    analyzedAt: new Date(0)
  })
