/**
 * Every invariant, on every adapter: the exact corruption written with raw
 * SQL, found by validate and nothing else; repaired (through a job and a
 * runner where the repair needs the analyzer); validate clean afterwards;
 * a second repair changes nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, type Layer, Schema, TestClock } from "effect"
import { Insights, PostAnalysis, ProfileImport, ProfileStore } from "../../src/index.js"
import { JobStore } from "../../src/JobStore.js"
import * as Repairer from "../../src/Repairer.js"
import * as Validator from "../../src/Validator.js"
import { ownProfile, twelveCaptions } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { storages } from "../support/Storage.js"
import {
  auditRows,
  hostLayer,
  insertAggregate,
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

const validate = (options?: Validator.ValidateOptions) =>
  Effect.flatMap(Validator.Validator, (v) => v.validate(options))

const violationsNow = (options?: Validator.ValidateOptions) =>
  Effect.map(validate(options), (report) => encodeViolations(report.violations))

const repair = Effect.flatMap(Repairer.Repairer, (r) => r.repair())

const iso = (ms: number) => new Date(ms).toISOString()

type HostServices = Layer.Layer.Success<ReturnType<typeof hostLayer>>
type RunnerServices = Layer.Layer.Success<ReturnType<typeof runnerLayer>>

describe.each(storages.filter((s) => s.available))("consistency on $name", (storage) => {
  const setup = Effect.gen(function* () {
    const scripted = yield* ScriptedAnalyzer.make(VERSION)
    const database = (yield* storage.fresh)()
    return {
      scripted,
      host: <A, E>(effect: Effect.Effect<A, E, HostServices>) =>
        Effect.provide(effect, hostLayer(database, scripted.layer)),
      runner: <A, E>(effect: Effect.Effect<A, E, RunnerServices>) =>
        Effect.provide(effect, runnerLayer(database, scripted.layer, false))
    }
  })

  /** Validate is clean, and a repair run now changes nothing. */
  const settled = Effect.gen(function* () {
    expect(yield* violationsNow()).toEqual([])
    const again = yield* repair
    expect(again.violations).toEqual([])
    expect(again.actions).toEqual([])
  })

  /** Runs a runner until the profile has no active job and 12 analyses aggregated. */
  const runUntilAggregated = (profileId: string) =>
    pumpUntil(
      "the repair job to finish",
      stateOf(profileId),
      (s) => s.active === 0 && s.analysed === 12 && s.aggregated === 12
    )

  const actionsOf = (report: Repairer.RepairReport) =>
    report.actions.map((a) => [a.action, a.outcome, [...a.violations]])

  it.effect("a succeeded job with 5 of 12 posts analysed: a refresh analyses the other 7", () =>
    Effect.gen(function* () {
      const { host, runner, scripted } = yield* setup
      const { seeded, jobId } = yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const seeded = yield* seedProfile("half")
          const profileId = seeded.profile.id
          const jobId = yield* insertJob({
            profileId,
            status: "succeeded",
            done: 5,
            total: 12,
            createdAt: t,
            finishedAt: t + 2000
          })
          yield* insertAnalyses(profileId, seeded.posts.slice(0, 5), { at: t + 1000, jobId })
          yield* insertAggregate(seeded, { at: t + 1500, jobId })
          yield* TestClock.adjust("10 seconds")

          expect(yield* violationsNow()).toEqual([{
            _tag: "SucceededJobIncomplete",
            profileId,
            owner: OWNER,
            jobId,
            missing: 7,
            postIds: seeded.posts.slice(5).map((p) => p.id).sort(),
            repair: "RefreshProfile"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["submitted-job", "applied", ["SucceededJobIncomplete"]]
          ])
          const audit = yield* auditRows
          expect(audit).toMatchObject([{
            violation: "SucceededJobIncomplete",
            action: "submitted-job",
            profile_id: profileId,
            job_id: repaired.actions[0]!.jobId
          }])
          expect(JSON.parse(audit[0]!.post_ids)).toHaveLength(7)
          // The refresh job is queued: the profile is work in progress.
          yield* settled
          return { seeded, jobId }
        })
      )

      yield* runner(runUntilAggregated(seeded.profile.id))
      expect(yield* scripted.calls).toHaveLength(7)
      yield* host(
        Effect.gen(function* () {
          yield* settled
          const jobs = yield* rows<{ id: string; kind: string; status: string; done: number | string }>(
            (sql) => sql`SELECT id, kind, status, done FROM pi_jobs
              WHERE profile_id = ${seeded.profile.id} ORDER BY created_at`
          )
          expect(jobs.map((j) => [j.kind, j.status, Number(j.done)])).toEqual([
            ["analyze", "succeeded", 5],
            ["refresh", "succeeded", 12]
          ])
          expect(jobs[0]!.id).toBe(jobId)
          expect(yield* auditRows).toHaveLength(1)
        })
      )
    }))

  it.effect("a succeeded job without an aggregate: a reaggregate job writes it", () =>
    Effect.gen(function* () {
      const { host, runner, scripted } = yield* setup
      const profileId = yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const seeded = yield* seedProfile("unaggregated")
          const profileId = seeded.profile.id
          const jobId = yield* insertJob({
            profileId,
            status: "succeeded",
            done: 12,
            total: 12,
            createdAt: t,
            finishedAt: t + 2000
          })
          yield* insertAnalyses(profileId, seeded.posts, { at: t + 1000, jobId })
          yield* TestClock.adjust("10 seconds")

          expect(yield* violationsNow()).toEqual([{
            _tag: "MissingAggregate",
            profileId,
            owner: OWNER,
            jobId,
            repair: "Reaggregate"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([["submitted-job", "applied", ["MissingAggregate"]]])
          const kind = yield* rows<{ kind: string }>(
            (sql) => sql`SELECT kind FROM pi_jobs WHERE id = ${repaired.actions[0]!.jobId}`
          )
          expect(kind).toEqual([{ kind: "reaggregate" }])
          yield* settled
          return profileId
        })
      )
      yield* runner(runUntilAggregated(profileId))
      expect(yield* scripted.calls).toEqual([])
      yield* host(settled)
    }))

  it.effect("an aggregate older than the newest analysis: a reaggregate job rebuilds it", () =>
    Effect.gen(function* () {
      const { host, runner } = yield* setup
      const { profileId, newer } = yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const seeded = yield* seedHealthy("stale-aggregate")
          const profileId = seeded.profile.id
          const newer = t + 1800
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE pi_post_analyses SET analyzed_at = ${newer}
            WHERE post_id = ${seeded.posts[3]!.id}`

          expect(yield* violationsNow()).toEqual([{
            _tag: "StaleAggregate",
            profileId,
            owner: OWNER,
            aggregateJobId: seeded.jobId,
            aggregateVersion: VERSION,
            watermark: { analyses: 12, newestAnalysisAt: iso(t + 1000) },
            stored: { analyses: 12, newestAnalysisAt: iso(newer) },
            repair: "Reaggregate"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([["submitted-job", "applied", ["StaleAggregate"]]])
          yield* settled
          return { profileId, newer }
        })
      )
      yield* runner(runUntilAggregated(profileId))
      yield* host(
        Effect.gen(function* () {
          yield* settled
          const watermark = yield* rows<{ watermark_at: number | string }>(
            (sql) => sql`SELECT watermark_at FROM pi_profile_insights
              WHERE profile_id = ${profileId}`
          )
          expect(Number(watermark[0]!.watermark_at)).toBe(newer)
        })
      )
    }))

  it.effect("progress counters that differ from the stored analyses are recounted", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("miscounted")
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE pi_jobs SET done = 5, failed = 1 WHERE id = ${seeded.jobId}`

          expect(yield* violationsNow()).toEqual([{
            _tag: "ProgressMismatch",
            profileId: seeded.profile.id,
            jobId: seeded.jobId,
            analyzerVersion: VERSION,
            recorded: { total: 12, done: 5, failed: 1 },
            stored: { total: 12, done: 12, failed: 0 },
            repair: "RecountProgress"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["recounted-progress", "applied", ["ProgressMismatch"]]
          ])
          const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, seeded.jobId))
          expect([job.status, job.total, job.done, job.failed]).toEqual(["succeeded", 12, 12, 0])
          expect(yield* auditRows).toMatchObject([
            { violation: "ProgressMismatch", action: "recounted-progress", job_id: seeded.jobId }
          ])
          yield* settled
          expect(yield* auditRows).toHaveLength(1)
        })
      )
    }))

  it.effect("a running job whose lease expired is queued again with a new epoch", () =>
    Effect.gen(function* () {
      const { host, runner, scripted } = yield* setup
      const { profileId, jobId } = yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const seeded = yield* seedProfile("navigated-away")
          const profileId = seeded.profile.id
          const jobId = yield* insertJob({
            profileId,
            status: "running",
            done: 5,
            total: 12,
            epoch: 1,
            leaseHolder: "runner-gone",
            leaseExpiresAt: t + 15_000,
            createdAt: t
          })
          yield* insertAnalyses(profileId, seeded.posts.slice(0, 5), { at: t + 1000, jobId })

          // On its lease, the job is a job running normally.
          yield* TestClock.adjust("10 seconds")
          expect(yield* violationsNow()).toEqual([])
          yield* TestClock.adjust("10 seconds")
          expect(yield* violationsNow()).toEqual([{
            _tag: "ExpiredLease",
            profileId,
            jobId,
            epoch: 1,
            leaseHolder: "runner-gone",
            leaseExpiresAt: iso(t + 15_000),
            repair: "ReleaseLease"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([["released-lease", "applied", ["ExpiredLease"]]])
          const jobs = yield* JobStore
          const job = yield* jobs.get(OWNER, jobId)
          expect([job.status, job.epoch, job.leaseHolder, job.attempt]).toEqual([
            "queued",
            2,
            null,
            1
          ])
          // The runner that held epoch 1, should it wake up, is fenced.
          const zombie = { jobId, epoch: 1 }
          const late = new PostAnalysis({
            postId: seeded.posts[6]!.id,
            analyzerId: "scripted",
            analyzerVersion: VERSION,
            outcome: { _tag: "Analysed", result: ScriptedAnalyzer.result("late") },
            analyzedAt: new Date(t)
          })
          expect(yield* Effect.flip(jobs.checkpoint(zombie, profileId, late))).toMatchObject({
            _tag: "LeaseLost"
          })
          expect(yield* Effect.flip(jobs.heartbeat(zombie, 1000))).toMatchObject({
            _tag: "LeaseLost"
          })
          yield* settled
          return { profileId, jobId }
        })
      )
      yield* runner(runUntilAggregated(profileId))
      expect(yield* scripted.calls).toHaveLength(7)
      yield* host(
        Effect.gen(function* () {
          yield* settled
          const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
          expect([job.status, job.done, job.total, job.epoch]).toEqual(["succeeded", 12, 12, 3])
        })
      )
    }))

  it.effect("the unique index makes a second active job of one kind impossible to write", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const { profile } = yield* seedProfile("indexed")
          yield* insertJob({ profileId: profile.id, status: "queued", epoch: 0, createdAt: t })
          const second = yield* Effect.exit(
            insertJob({ profileId: profile.id, status: "running", epoch: 0, createdAt: t })
          )
          expect(second._tag).toBe("Failure")
        })
      )
    }))

  it.effect("two active jobs of one kind (index dropped, as an old version left it): the newer is cancelled", () =>
    Effect.gen(function* () {
      const { host, runner } = yield* setup
      const profileId = yield* host(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const t = yield* Clock.currentTimeMillis
          const { profile } = yield* seedProfile("doubled")
          yield* sql`DROP INDEX pi_jobs_active`
          const first = yield* insertJob({
            profileId: profile.id,
            status: "queued",
            total: 12,
            epoch: 0,
            attempt: 0,
            createdAt: t
          })
          const second = yield* insertJob({
            profileId: profile.id,
            status: "queued",
            total: 12,
            epoch: 0,
            attempt: 0,
            createdAt: t + 1
          })
          yield* TestClock.adjust("1 second")

          expect(yield* violationsNow()).toEqual([{
            _tag: "DuplicateActiveJobs",
            profileId: profile.id,
            kind: "analyze",
            keepJobId: first,
            duplicates: [{ jobId: second, epoch: 0 }],
            repair: "CancelDuplicates"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["cancelled-job", "applied", ["DuplicateActiveJobs"]]
          ])
          expect(repaired.actions[0]!.jobId).toBe(second)
          const statuses = yield* rows<{ id: string; status: string; last_error: string | null }>(
            (sql) => sql`SELECT id, status, last_error FROM pi_jobs ORDER BY created_at`
          )
          expect(statuses.map((s) => s.status)).toEqual(["queued", "cancelled"])
          expect(statuses[1]!.last_error).toContain(first)
          // What the migration would build again now succeeds.
          yield* sql`CREATE UNIQUE INDEX pi_jobs_active ON pi_jobs (profile_id, kind)
            WHERE status IN ('queued', 'running')`
          yield* settled
          return profile.id
        })
      )
      yield* runner(runUntilAggregated(profileId))
      yield* host(settled)
    }))

  it.effect("analyses of posts that no longer exist are deleted, across keyset pages", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const t = yield* Clock.currentTimeMillis
          const one = yield* seedHealthy("orphans-one")
          const two = yield* seedHealthy("orphans-two")
          const orphan = (profileId: string, postId: string) =>
            insertAnalyses(profileId, [{ ...one.posts[0]!, id: postId }], { at: t + 1200 })
          // A post removed from an existing profile, and the analyses of
          // deleted profiles whose ids sort before and after every profile.
          yield* orphan(one.profile.id, "removed-post")
          yield* orphan("000-deleted-profile", "gone-a")
          yield* orphan("zzz-deleted-profile", "gone-b")

          const expected = [
            { profileId: "000-deleted-profile", postId: "gone-a" },
            { profileId: one.profile.id, postId: "removed-post" },
            { profileId: "zzz-deleted-profile", postId: "gone-b" }
          ].sort((a, b) => (a.profileId < b.profileId ? -1 : 1))
          for (const pageSize of [1, 2, 100]) {
            expect(yield* violationsNow({ pageSize })).toEqual(
              expected.map((e) => ({
                _tag: "OrphanAnalyses",
                profileId: e.profileId,
                analyses: [{ postId: e.postId, analyzerVersion: VERSION }],
                repair: "DeleteOrphans"
              }))
            )
          }
          const report = yield* validate({ pageSize: 1 })
          expect([report.profiles, report.pages]).toEqual([2, 3])

          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual(
            expected.map(() => ["deleted-analyses", "applied", ["OrphanAnalyses"]])
          )
          const left = yield* rows<{ n: number | string }>(
            (sql) => sql`SELECT COUNT(*) AS n FROM pi_post_analyses`
          )
          expect(Number(left[0]!.n)).toBe(24)
          expect((yield* auditRows).map((r) => JSON.parse(r.post_ids)).flat().sort()).toEqual(
            ["gone-a", "gone-b", "removed-post"]
          )
          yield* settled
          expect(two.profile.id).not.toBe(one.profile.id)
        })
      )
    }))

  it.effect("posts analysed only at an outdated analyzer version are analysed again by a refresh", () =>
    Effect.gen(function* () {
      const { host, runner, scripted } = yield* setup
      const profileId = yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("outdated", "scripted-0")
          const profileId = seeded.profile.id
          expect(yield* violationsNow()).toEqual([{
            _tag: "StaleAnalyses",
            profileId,
            owner: OWNER,
            currentVersion: VERSION,
            posts: 12,
            postIds: seeded.posts.map((p) => p.id).sort(),
            repair: "RefreshProfile"
          }])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([["submitted-job", "applied", ["StaleAnalyses"]]])
          yield* settled
          return profileId
        })
      )
      yield* runner(runUntilAggregated(profileId))
      expect(yield* scripted.calls).toHaveLength(12)
      yield* host(
        Effect.gen(function* () {
          yield* settled
          expect(yield* stateOf(profileId)).toMatchObject({ aggregateVersion: VERSION })
        })
      )
    }))

  it.effect("a profile analysed, re-imported and refreshed normally is never reported", () =>
    Effect.gen(function* () {
      const { host, runner } = yield* setup
      const checkClean = Effect.map(violationsNow(), (v) => expect(v).toEqual([]))
      const profileId = yield* runner(
        Effect.gen(function* () {
          const { profile } = yield* seedProfile("normal")
          yield* checkClean
          const api = yield* Insights.Insights
          yield* api.submit(OWNER, profile.id)
          yield* checkClean
          yield* runUntilAggregated(profile.id)
          yield* checkClean
          return profile.id
        })
      )
      yield* host(
        Effect.gen(function* () {
          yield* TestClock.adjust("1 minute")
          // A re-import: one caption changed, one post removed, one added.
          const content = ownProfile("normal", [...twelveCaptions.slice(0, 10), "changed", "last"])
          content.posts[11] = { ...content.posts[11]!, platformPostId: "normal-new" }
          const profiles = yield* ProfileStore.ProfileStore
          const saved = yield* profiles.save(OWNER, Schema.decodeUnknownSync(ProfileImport)(content))
          expect([saved.added, saved.changed, saved.removed]).toEqual([1, 1, 1])
          yield* checkClean
        })
      )
      yield* runner(
        Effect.gen(function* () {
          const api = yield* Insights.Insights
          yield* api.submit(OWNER, profileId, { kind: "refresh" })
          yield* runUntilAggregated(profileId)
          yield* checkClean
        })
      )
      yield* host(settled)
    }))
})
