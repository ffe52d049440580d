/**
 * Validate and repair alongside other work: validations while jobs run and
 * finish report nothing; repairers in several processes (each with its
 * own connections) at once apply each change exactly once.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Layer, Logger, LogLevel, Schema, TestClock } from "effect"
import { Insights, isTerminal } from "../../src/index.js"
import { Repairer } from "../../src/Repairer.js"
import * as Validator from "../../src/Validator.js"
import { libraryLayer, ownProfile } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { storages } from "../support/Storage.js"
import {
  auditRows,
  consistencyLayer,
  hostLayer,
  insertAnalyses,
  insertJob,
  OWNER,
  pumpUntil,
  rows,
  runnerLayer,
  seedHealthy,
  seedProfile,
  stateOf,
  VERSION
} from "./Seed.js"

const encodeViolations = Schema.encodeSync(Schema.Array(Validator.Violation))

const available = storages.filter((s) => s.available)

describe.each(available)("consistency under concurrency on $name", (storage) => {
  it.live("validations while jobs run and finish report nothing", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedAnalyzer.make(VERSION)
      const database = (yield* storage.fresh)()
      const layer = consistencyLayer.pipe(
        Layer.provideMerge(libraryLayer(database, scripted.layer, { jobConcurrency: 3 })),
        Layer.provideMerge(database),
        Layer.provideMerge(scripted.layer),
        Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
      )
      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        const validator = yield* Validator.Validator
        const captions = Array.from({ length: 12 }, (_, i) => `good food slow-${20 + (i % 4) * 15}`)
        const jobs = []
        for (let i = 0; i < 8; i++) {
          const { profile } = yield* api.importProfile(OWNER, ownProfile(`busy-${i}`, captions))
          jobs.push(yield* api.submit(OWNER, profile.id))
        }
        const seen: Array<unknown> = []
        let whileRunning = 0
        for (;;) {
          const states = yield* Effect.forEach(jobs, (j) => api.status(OWNER, j.id))
          const report = yield* validator.validate({ pageSize: 3 })
          seen.push(...encodeViolations(report.violations))
          if (states.every((s) => isTerminal(s.status))) break
          if (states.some((s) => s.status === "running")) whileRunning++
        }
        expect(seen).toEqual([])
        expect(whileRunning).toBeGreaterThanOrEqual(3)
        const done = yield* Effect.forEach(jobs, (j) => api.status(OWNER, j.id))
        expect(done.map((j) => j.status)).toEqual(jobs.map(() => "succeeded"))
        expect((yield* validator.validate()).clean).toBe(true)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("repairers in three processes at once apply each change once", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedAnalyzer.make(VERSION)
      const database = (yield* storage.fresh)()
      const host = <A, E>(
        effect: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof hostLayer>>>
      ) => Effect.provide(effect, hostLayer(database, scripted.layer))

      const profiles = yield* host(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const t = yield* Clock.currentTimeMillis
          // Expired lease.
          const leased = yield* seedProfile("leased")
          const leasedJob = yield* insertJob({
            profileId: leased.profile.id,
            status: "running",
            total: 12,
            done: 5,
            leaseHolder: "gone",
            leaseExpiresAt: t + 1000,
            createdAt: t
          })
          yield* insertAnalyses(leased.profile.id, leased.posts.slice(0, 5), {
            at: t + 500,
            jobId: leasedJob
          })
          // No aggregate.
          const bare = yield* seedProfile("bare")
          const bareJob = yield* insertJob({
            profileId: bare.profile.id,
            status: "succeeded",
            total: 12,
            done: 12,
            createdAt: t,
            finishedAt: t + 2000
          })
          yield* insertAnalyses(bare.profile.id, bare.posts, { at: t + 1000, jobId: bareJob })
          // Miscounted, with an orphan.
          const counted = yield* seedHealthy("counted")
          yield* sql`UPDATE pi_jobs SET done = 3 WHERE id = ${counted.jobId}`
          yield* insertAnalyses(counted.profile.id, [{ ...counted.posts[0]!, id: "gone-post" }], {
            at: t + 1000
          })
          yield* TestClock.adjust("30 seconds")
          const report = yield* Effect.flatMap(Validator.Validator, (v) => v.validate())
          expect(report.violations.map((v) => v._tag).sort()).toEqual([
            "ExpiredLease",
            "MissingAggregate",
            "OrphanAnalyses",
            "ProgressMismatch"
          ])
          return [leased, bare, counted].map((s) => s.profile.id)
        })
      )

      const reports = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) =>
          host(Effect.flatMap(Repairer, (r) => r.repair({ actor: `process-${i}`, pageSize: 2 })))
        ),
        { concurrency: "unbounded" }
      )
      const applied = reports.flatMap((r) => r.actions.filter((a) => a.outcome === "applied"))
      expect(applied.map((a) => a.action).sort()).toEqual([
        "deleted-analyses",
        "recounted-progress",
        "released-lease",
        "submitted-job"
      ])
      const audit = yield* host(auditRows)
      expect(audit.map((r) => r.action).sort()).toEqual(applied.map((a) => a.action).sort())
      const active = yield* host(
        rows<{ profile_id: string; n: number | string }>(
          (sql) => sql`SELECT profile_id, COUNT(*) AS n FROM pi_jobs
            WHERE status IN ('queued', 'running') GROUP BY profile_id`
        )
      )
      expect(active.map((r) => Number(r.n))).toEqual(active.map(() => 1))

      yield* Effect.provide(
        Effect.forEach(profiles, (profileId) =>
          pumpUntil("every profile to be finished", stateOf(profileId), (s) =>
            s.active === 0 && s.analysed === 12 && s.aggregated === 12)
        ),
        runnerLayer(database, scripted.layer, false)
      )
      yield* host(
        Effect.gen(function* () {
          expect((yield* Effect.flatMap(Validator.Validator, (v) => v.validate())).clean).toBe(true)
          const again = yield* Effect.flatMap(Repairer, (r) => r.repair())
          expect(again.actions).toEqual([])
        })
      )
    }))

  it.effect("repairers in three processes at once cancel each duplicate once", () =>
    Effect.gen(function* () {
      const scripted = yield* ScriptedAnalyzer.make(VERSION)
      const database = (yield* storage.fresh)()
      const host = <A, E>(
        effect: Effect.Effect<A, E, Layer.Layer.Success<ReturnType<typeof hostLayer>>>
      ) => Effect.provide(effect, hostLayer(database, scripted.layer))

      const first = yield* host(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const t = yield* Clock.currentTimeMillis
          // Without the index, single-flight is gone: only duplicates here.
          yield* sql`DROP INDEX pi_jobs_active`
          const doubled = yield* seedProfile("tripled")
          const ids = []
          for (const at of [t, t + 1, t + 2]) {
            ids.push(yield* insertJob({
              profileId: doubled.profile.id,
              kind: "refresh",
              status: "queued",
              epoch: 0,
              attempt: 0,
              total: 12,
              createdAt: at
            }))
          }
          return ids[0]!
        })
      )
      const reports = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) =>
          host(Effect.flatMap(Repairer, (r) => r.repair({ actor: `process-${i}` })))
        ),
        { concurrency: "unbounded" }
      )
      const applied = reports.flatMap((r) => r.actions.filter((a) => a.outcome === "applied"))
      expect(applied.map((a) => a.action)).toEqual(["cancelled-job", "cancelled-job"])
      expect(yield* host(auditRows)).toHaveLength(2)
      const active = yield* host(
        rows<{ id: string }>(
          (sql) => sql`SELECT id FROM pi_jobs WHERE status IN ('queued', 'running')`
        )
      )
      expect(active).toEqual([{ id: first }])
    }))
})
