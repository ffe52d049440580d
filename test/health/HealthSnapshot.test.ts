/**
 * Health snapshots against a database set up with jobs in known states, on
 * every adapter. Time is the test's clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Metric, Option, Schema, TestClock } from "effect"
import { JobStore, type ProfileStore } from "../../src/index.js"
import * as Health from "../../src/Health.js"
import * as Metrics from "../../src/Metrics.js"
import { storages } from "../support/Storage.js"
import { profileWith, recordRepair, storesLayer, succeed } from "./Support.js"

const encodeSnapshot = Schema.encode(Health.HealthSnapshot)
const decodeSnapshot = Schema.decodeUnknown(Health.HealthSnapshot)

describe.each(storages.filter((s) => s.available))("Health on $name", (storage) => {
  const withHealth = <A, E>(
    body: Effect.Effect<
      A,
      E,
      Health.Health | JobStore.JobStore | ProfileStore.ProfileStore | SqlClient.SqlClient
    >
  ) =>
    Effect.flatMap(storage.fresh, (database) =>
      body.pipe(Effect.provide(storesLayer(database())))
    )

  it.effect("an empty database is healthy and has no repairs", () =>
    withHealth(
      Effect.gen(function* () {
        const snapshot = yield* Effect.flatMap(Health.Health, (h) => h.snapshot)
        expect(snapshot.jobs).toMatchObject({
          queued: 0,
          running: 0,
          succeeded: 0,
          failed: 0,
          cancelled: 0
        })
        expect([snapshot.due, snapshot.running, snapshot.stalled]).toEqual([0, 0, 0])
        expect(snapshot.oldestQueued).toBeNull()
        expect(snapshot.recent).toMatchObject({ retried: 0, failureRate: null })
        expect(snapshot.repairs).toMatchObject({
          recorded: true,
          last: null,
          recentByViolation: []
        })
      })
    )
  )

  it.effect("counts queued, due, running, stalled, finished and retried jobs", () =>
    withHealth(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const health = yield* Health.Health
        const ids = yield* Effect.forEach(["a", "b", "c", "d", "e", "f", "g"], (h) =>
          profileWith(h)
        )
        const [a, b, c, d, e, f, g] = ids as [string, string, string, string, string, string, string]
        // One job a second, so claims take them in this order.
        const submitted: Array<string> = []
        for (const profileId of [a, b, c, d, g, e]) {
          const job = yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
          submitted.push(job.id)
          yield* TestClock.adjust("1 second")
        }
        // t = 6s. A runs with a long lease, B with a short one.
        const claim = (runner: string, lease: number) =>
          Effect.map(jobs.claim(runner, lease), Option.getOrThrow)
        const jobA = yield* claim("runner-a", 60_000)
        const jobB = yield* claim("runner-b", 4_000)
        const jobC = yield* claim("runner-c", 60_000)
        yield* jobs.fail({ jobId: jobC.id, epoch: jobC.epoch }, "broken")
        const jobD = yield* claim("runner-d", 60_000)
        yield* jobs.retry({ jobId: jobD.id, epoch: jobD.epoch }, "flaky", new Date(36_000))
        const jobG = yield* claim("runner-g", 60_000)
        yield* succeed({ jobId: jobG.id, epoch: jobG.epoch }, g)
        // F is scheduled for much later; E (submitted at 5s) stays due.
        yield* jobs.submit({
          owner: "alice",
          profileId: f,
          kind: "analyze",
          runAfter: new Date(3_600_000)
        })
        expect([jobA.id, jobB.id, jobC.id, jobD.id, jobG.id]).toEqual(submitted.slice(0, 5))

        yield* TestClock.adjust("14 seconds")
        // t = 20s
        const at20 = yield* health.snapshot
        expect(at20.takenAt.getTime()).toBe(20_000)
        expect({ ...at20.jobs }).toEqual({
          queued: 3,
          running: 2,
          succeeded: 1,
          failed: 1,
          cancelled: 0
        })
        expect([at20.due, at20.running, at20.stalled]).toEqual([1, 1, 1])
        expect(at20.oldestQueued).toMatchObject({
          jobId: submitted[5],
          profileId: e,
          kind: "analyze",
          waitingMillis: 15_000
        })
        expect(at20.oldestQueued?.dueSince.getTime()).toBe(5_000)
        expect(at20.stalledJobs.map((j) => ({ ...j }))).toEqual([
          {
            jobId: jobB.id,
            profileId: b,
            kind: "analyze",
            leaseHolder: "runner-b",
            leaseExpiredAt: new Date(10_000),
            attempt: 1
          }
        ])
        expect({ ...at20.recent }).toEqual({
          windowMillis: 600_000,
          succeeded: 1,
          failed: 1,
          cancelled: 0,
          retried: 1,
          failureRate: 0.5
        })

        // The gauges follow the snapshot.
        const gauge = (status: string) =>
          Effect.map(Metric.value(Metric.tagged(Metrics.jobs, "status", status)), (s) => s.value)
        expect(yield* gauge("queued")).toBe(3)
        expect((yield* Metric.value(Metrics.jobsStalled)).value).toBe(1)
        expect((yield* Metric.value(Metrics.oldestQueuedAge)).value).toBe(15)

        // t = 40s: D is due again (since 36s); E is still the oldest.
        yield* TestClock.adjust("20 seconds")
        const at40 = yield* health.snapshot
        expect(at40.due).toBe(2)
        expect(at40.oldestQueued).toMatchObject({ jobId: submitted[5], waitingMillis: 35_000 })

        // A runner reclaims B: no longer stalled, and now on its second attempt.
        const reclaimed = yield* claim("runner-x", 600_000)
        expect(reclaimed.id).toBe(jobB.id)
        const afterReclaim = yield* health.snapshot
        expect([afterReclaim.running, afterReclaim.stalled]).toEqual([2, 0])
        expect(afterReclaim.stalledJobs).toEqual([])
        expect(afterReclaim.recent.retried).toBe(2)

        // Eleven minutes on, the failure and the success are out of the window.
        yield* TestClock.adjust("11 minutes")
        const later = yield* health.snapshot
        expect(later.recent).toMatchObject({
          succeeded: 0,
          failed: 0,
          failureRate: null
        })
        expect(later.oldestQueued?.waitingMillis).toBe(700_000 - 5_000)
      })
    )
  )

  it.effect("reports the last repair and repairs by violation, and none without pi_repairs", () =>
    withHealth(
      Effect.gen(function* () {
        const health = yield* Health.Health
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.adjust("1 hour")
        yield* recordRepair({ runId: "run-1", violation: "StaleAggregate" })
        yield* recordRepair({ runId: "run-1", violation: "ProgressMismatch" })
        yield* TestClock.adjust("1 hour")
        yield* recordRepair({ runId: "run-2", violation: "StaleAggregate" })
        yield* recordRepair({ runId: "run-2", violation: "StaleAggregate" })
        yield* TestClock.adjust("1 hour")
        yield* recordRepair({
          runId: "run-3",
          violation: "ExpiredLease",
          action: "released-lease",
          profileId: "p-1"
        })
        yield* TestClock.adjust("1 minute")

        const snapshot = yield* health.snapshot
        expect(snapshot.repairs.recorded).toBe(true)
        expect({ ...snapshot.repairs.last }).toEqual({
          runId: "run-3",
          actor: "test",
          violation: "ExpiredLease",
          action: "released-lease",
          profileId: "p-1",
          jobId: null,
          reason: "ExpiredLease found by the test",
          at: new Date(3 * 3_600_000)
        })
        expect(snapshot.repairs.recentByViolation.map((r) => ({ ...r }))).toEqual([
          { violation: "ExpiredLease", repairs: 1, runs: 1 },
          { violation: "ProgressMismatch", repairs: 1, runs: 1 },
          { violation: "StaleAggregate", repairs: 3, runs: 2 }
        ])

        // A day later the counts are empty; the last repair is still known.
        yield* TestClock.adjust("1 day")
        const dayLater = yield* health.snapshot
        expect(dayLater.repairs.recentByViolation).toEqual([])
        expect(dayLater.repairs.last?.runId).toBe("run-3")

        // A database from before the repairer: no table, no repairs.
        yield* sql`DROP TABLE pi_repairs`.pipe(Effect.orDie)
        const without = yield* health.snapshot
        expect({ ...without.repairs }).toEqual({
          recorded: false,
          last: null,
          windowMillis: 86_400_000,
          recentByViolation: []
        })
      })
    )
  )

  it.effect("a snapshot encodes to JSON and decodes back", () =>
    withHealth(
      Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("json")
        yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        yield* TestClock.adjust("90 seconds")
        const snapshot = yield* Effect.flatMap(Health.Health, (h) => h.snapshot)
        const json = JSON.parse(JSON.stringify(
          yield* Effect.orDie(encodeSnapshot(snapshot))
        ))
        expect(json.takenAt).toBe("1970-01-01T00:01:30.000Z")
        expect(json.oldestQueued.waitingMillis).toBe(90_000)
        const decoded = yield* Effect.orDie(decodeSnapshot(json))
        expect(decoded.oldestQueued?.dueSince).toEqual(new Date(0))
      })
    )
  )
})
