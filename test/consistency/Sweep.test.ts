/**
 * The navigation bug, end to end: a job killed mid-run left 5 of 12 posts
 * analysed, the job "running" and no aggregate. With the runner and its
 * scheduled repair sweep up, and no human action, the profile reaches
 * 12/12 with an aggregate. The sweep is the one Insights.layer runs by
 * default; time is the test clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Schema, TestClock } from "effect"
import { JobStore } from "../../src/JobStore.js"
import * as Validator from "../../src/Validator.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { storages } from "../support/Storage.js"
import {
  auditRows,
  hostLayer,
  insertAnalyses,
  insertJob,
  OWNER,
  pumpUntil,
  runnerLayer,
  scalar,
  seedHealthy,
  seedProfile,
  stateOf,
  VERSION
} from "./Seed.js"

const encodeViolations = Schema.encodeSync(Schema.Array(Validator.Violation))

describe.each(storages.filter((s) => s.available))("the scheduled sweep on $name", (storage) => {
  /**
   * The state a killed job leaves: 5 of 12 analysed, running on the lease
   * `lease` gives (relative to now), no aggregate.
   */
  const killedMidRun = (
    lease: (now: number) => { holder: string | null; expiresAt: number | null }
  ) =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedAnalyzer.make(VERSION)
      const database = (yield* storage.fresh)()
      const seeded = yield* Effect.gen(function* () {
        const t = yield* Clock.currentTimeMillis
        const seeded = yield* seedProfile("navigation")
        const { holder, expiresAt } = lease(t)
        const jobId = yield* insertJob({
          profileId: seeded.profile.id,
          status: "running",
          done: 5,
          total: 12,
          epoch: 1,
          leaseHolder: holder,
          leaseExpiresAt: expiresAt,
          createdAt: t
        })
        yield* insertAnalyses(seeded.profile.id, seeded.posts.slice(0, 5), { at: t + 500, jobId })
        return { profileId: seeded.profile.id, jobId }
      }).pipe(Effect.provide(hostLayer(database, scripted.layer)))
      return { ...seeded, scripted, database }
    })

  const finished = (s: Effect.Effect.Success<ReturnType<typeof stateOf>>) =>
    s.active === 0 && s.analysed === 12 && s.aggregated === 12

  it.effect("a job left running without a lease: the default sweep releases it", () =>
    Effect.gen(function* () {
      const { profileId, jobId, scripted, database } = yield* killedMidRun(() => ({
        holder: null,
        expiresAt: null
      }))
      yield* Effect.gen(function* () {
        yield* pumpUntil("the sweep to finish the profile", stateOf(profileId), finished)
        const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
        expect([job.status, job.done, job.failed, job.total]).toEqual(["succeeded", 12, 0, 12])
        expect((yield* auditRows).map((r) => [r.violation, r.action, r.job_id])).toEqual([
          ["ExpiredLease", "released-lease", jobId]
        ])
        // Sweeps go on without finding anything.
        yield* TestClock.adjust("5 minutes")
        expect(yield* auditRows).toHaveLength(1)
      }).pipe(
        Effect.provide(
          runnerLayer(database, scripted.layer)
        )
      )
      expect(yield* scripted.calls).toHaveLength(7)
      const report = yield* Effect.flatMap(Validator.Validator, (v) => v.validate()).pipe(
        Effect.provide(hostLayer(database, scripted.layer))
      )
      expect(report.clean).toBe(true)
    }))

  it.effect("a job whose lease ran out before the runner came back", () =>
    Effect.gen(function* () {
      const { profileId, jobId, scripted, database } = yield* killedMidRun((t) => ({
        holder: "runner-killed",
        expiresAt: t - 1
      }))
      yield* Effect.gen(function* () {
        yield* pumpUntil("the profile to be finished", stateOf(profileId), finished)
        const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
        expect([job.status, job.done, job.total]).toEqual(["succeeded", 12, 12])
      }).pipe(
        Effect.provide(
          runnerLayer(database, scripted.layer, { interval: "1 minute" })
        )
      )
      expect(yield* scripted.calls).toHaveLength(7)
    }))

  it.effect("a job still on its lease is left alone until the lease runs out", () =>
    Effect.gen(function* () {
      const { profileId, jobId, scripted, database } = yield* killedMidRun((t) => ({
        holder: "runner-killed",
        expiresAt: t + 45_000
      }))
      yield* Effect.gen(function* () {
        // Sweeps at about 20 s and 40 s find a job running normally.
        yield* pumpUntil("40 seconds of sweeps", Clock.currentTimeMillis, (t) => t >= 40_000)
        const before = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
        expect([before.status, before.epoch, before.leaseHolder]).toEqual([
          "running",
          1,
          "runner-killed"
        ])
        expect(yield* auditRows).toEqual([])

        yield* pumpUntil("the profile to be finished", stateOf(profileId), finished)
        const after = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
        expect([after.status, after.done, after.total]).toEqual(["succeeded", 12, 12])
      }).pipe(
        Effect.provide(
          runnerLayer(database, scripted.layer, { interval: "20 seconds" })
        )
      )
      const report = yield* Effect.flatMap(Validator.Validator, (v) => v.validate()).pipe(
        Effect.provide(hostLayer(database, scripted.layer))
      )
      expect(encodeViolations(report.violations)).toEqual([])
    }))

  it.effect("a disabled schedule does nothing", () =>
    Effect.gen(function* () {
      const { profileId, scripted, database } = yield* killedMidRun(() => ({
        holder: null,
        expiresAt: null
      }))
      yield* Effect.gen(function* () {
        yield* pumpUntil("5 minutes", Clock.currentTimeMillis, (t) => t >= 300_000, {
          step: "10 seconds"
        })
        expect(yield* stateOf(profileId)).toMatchObject({ analysed: 5, aggregated: null })
      }).pipe(
        Effect.provide(
          runnerLayer(database, scripted.layer, { enabled: false })
        )
      )
    }))

  /** A profile analysed and aggregated at another analyzer version. */
  const analysedElsewhere = Effect.gen(function* () {
    const scripted = yield* ScriptedAnalyzer.make(VERSION)
    const database = (yield* storage.fresh)()
    const seeded = yield* seedHealthy("other-analyzer", "scripted-0").pipe(
      Effect.provide(hostLayer(database, scripted.layer))
    )
    return { profileId: seeded.profile.id, scripted, database }
  })

  const jobCount = scalar((sql) => sql`SELECT COUNT(*) AS n FROM pi_jobs`)

  it.effect("stale analyses: the default sweep reports them and queues no job", () =>
    Effect.gen(function* () {
      const { profileId, scripted, database } = yield* analysedElsewhere
      yield* Effect.gen(function* () {
        yield* pumpUntil("5 minutes of sweeps", Clock.currentTimeMillis, (t) => t >= 300_000, {
          step: "10 seconds"
        })
        expect(yield* jobCount).toBe(1)
        expect(yield* auditRows).toEqual([])
        expect(yield* stateOf(profileId)).toMatchObject({ active: 0, aggregateVersion: "scripted-0" })
      }).pipe(Effect.provide(runnerLayer(database, scripted.layer, { interval: "1 minute" })))
      expect(yield* scripted.calls).toEqual([])
      const report = yield* Effect.flatMap(Validator.Validator, (v) => v.validate()).pipe(
        Effect.provide(hostLayer(database, scripted.layer))
      )
      expect(report.violations.map((v) => v._tag)).toEqual(["StaleAnalyses"])
    }))

  it.effect("stale analyses: a sweep that opts in refreshes them", () =>
    Effect.gen(function* () {
      const { profileId, scripted, database } = yield* analysedElsewhere
      yield* Effect.gen(function* () {
        yield* pumpUntil("the sweep to refresh the profile", stateOf(profileId), (s) =>
          finished(s) && s.aggregateVersion === VERSION)
        expect((yield* auditRows).map((r) => [r.violation, r.action])).toEqual([
          ["StaleAnalyses", "submitted-job"]
        ])
      }).pipe(
        Effect.provide(
          runnerLayer(database, scripted.layer, {
            interval: "1 minute",
            kinds: Validator.violationKinds
          })
        )
      )
      expect(yield* scripted.calls).toHaveLength(12)
    }))
})
