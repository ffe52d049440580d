/**
 * Rows that no reader can decode, each written with one SQL edit, and the
 * rows a profile deleted by hand leaves behind: validate reports exactly
 * them (never fails), repair puts the database back into a consistent
 * state, validate is clean, a second repair changes nothing. On every
 * adapter.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Clock, Effect, type Layer, Schema } from "effect"
import type { JobStatus } from "../../src/index.js"
import { JobStore } from "../../src/JobStore.js"
import * as Repairer from "../../src/Repairer.js"
import * as Validator from "../../src/Validator.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { storages } from "../support/Storage.js"
import {
  auditRows,
  hostLayer,
  insertJob,
  OWNER,
  pumpUntil,
  rows,
  runnerLayer,
  scalar,
  seedHealthy,
  stateOf,
  VERSION
} from "./Seed.js"

const encodeViolations = Schema.encodeSync(Schema.Array(Validator.Violation))

const validate = Effect.flatMap(Validator.Validator, (v) => v.validate())
const violationsNow = Effect.map(validate, (r) => encodeViolations(r.violations))
const repair = Effect.flatMap(Repairer.Repairer, (r) => r.repair())

type HostServices = Layer.Layer.Success<ReturnType<typeof hostLayer>>
type RunnerServices = Layer.Layer.Success<ReturnType<typeof runnerLayer>>

const actionsOf = (report: Repairer.RepairReport) =>
  report.actions.map((a) => [a.action, a.outcome, [...a.violations]])

describe.each(storages.filter((s) => s.available))("undecodable rows on $name", (storage) => {
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

  const settled = Effect.gen(function* () {
    expect(yield* violationsNow).toEqual([])
    const again = yield* repair
    expect(again.violations).toEqual([])
    expect(again.actions).toEqual([])
  })

  const runUntilAggregated = (profileId: string) =>
    pumpUntil(
      "the repair job to finish",
      stateOf(profileId),
      (s) => s.active === 0 && s.analysed === 12 && s.aggregated === 12
    )

  const undecodable = (
    fields: { table: string; profileId: string; rowId: string; analyzerVersion?: string | null },
    repair: string
  ) => ({
    _tag: "UndecodableRow",
    owner: OWNER,
    analyzerVersion: null,
    ...fields,
    error: expect.any(String),
    repair
  })

  it.effect("a job whose status is not a status is cancelled, saying why", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("misspelt")
          const t = yield* Clock.currentTimeMillis
          const jobId = yield* insertJob({
            profileId: seeded.profile.id,
            kind: "refresh",
            status: "runing" as JobStatus,
            createdAt: t
          })
          const found = yield* violationsNow
          expect(found).toEqual([
            undecodable(
              { table: "pi_jobs", profileId: seeded.profile.id, rowId: jobId },
              "RecountOrCancelJob"
            )
          ])
          expect(found[0]).toMatchObject({ error: expect.stringContaining("runing") })
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([["cancelled-job", "applied", ["UndecodableRow"]]])
          const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, jobId))
          expect(job.status).toBe("cancelled")
          expect(job.lastError).toContain("'runing' is not a job status")
          expect((yield* auditRows).map((r) => [r.violation, r.action, r.job_id])).toEqual([
            ["UndecodableRow", "cancelled-job", jobId]
          ])
          yield* settled
        })
      )
    }))

  it.effect("a job with impossible counters (done 5000, total -1) is recounted", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("overcounted")
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE pi_jobs SET done = 5000, total = -1 WHERE id = ${seeded.jobId}`
          expect(yield* violationsNow).toEqual([
            undecodable(
              { table: "pi_jobs", profileId: seeded.profile.id, rowId: seeded.jobId },
              "RecountOrCancelJob"
            )
          ])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["recounted-progress", "applied", ["UndecodableRow"]]
          ])
          const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(OWNER, seeded.jobId))
          expect([job.status, job.done, job.failed, job.total]).toEqual(["succeeded", 12, 0, 12])
          yield* settled
          expect(yield* auditRows).toHaveLength(1)
        })
      )
    }))

  for (const [name, value] of [["truncated", "{\"sentiment\":"], ["NULL", null]] as const) {
    it.effect(`an analysis whose result is ${name} is deleted and analysed again`, () =>
      Effect.gen(function* () {
        const { host, runner, scripted } = yield* setup
        const profileId = yield* host(
          Effect.gen(function* () {
            const seeded = yield* seedHealthy(`broken-result-${name}`)
            const postId = seeded.posts[4]!.id
            const sql = yield* SqlClient.SqlClient
            yield* sql`UPDATE pi_post_analyses SET result = ${value} WHERE post_id = ${postId}`
            expect(yield* violationsNow).toEqual([
              undecodable(
                {
                  table: "pi_post_analyses",
                  profileId: seeded.profile.id,
                  rowId: postId,
                  analyzerVersion: VERSION
                },
                "DeleteAnalysis"
              )
            ])
            const repaired = yield* repair
            expect(actionsOf(repaired)).toEqual([
              ["deleted-analyses", "applied", ["UndecodableRow"]],
              ["submitted-job", "applied", ["UndecodableRow"]]
            ])
            const left = yield* scalar((sql) =>
              sql`SELECT COUNT(*) AS n FROM pi_post_analyses WHERE post_id = ${postId}`
            )
            expect(left).toBe(0)
            yield* settled
            return seeded.profile.id
          })
        )
        yield* runner(runUntilAggregated(profileId))
        expect(yield* scripted.calls).toHaveLength(1)
        yield* host(settled)
      }))
  }

  it.effect("an aggregate whose body is garbage is deleted and computed again", () =>
    Effect.gen(function* () {
      const { host, runner, scripted } = yield* setup
      const profileId = yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("garbage-aggregate")
          const profileId = seeded.profile.id
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE pi_profile_insights SET body = 'garbage'
            WHERE profile_id = ${profileId}`
          expect(yield* violationsNow).toEqual([
            undecodable(
              { table: "pi_profile_insights", profileId, rowId: profileId },
              "RebuildAggregate"
            )
          ])
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["deleted-aggregate", "applied", ["UndecodableRow"]],
            ["submitted-job", "applied", ["UndecodableRow"]]
          ])
          const kind = yield* rows<{ kind: string }>(
            (sql) => sql`SELECT kind FROM pi_jobs WHERE id = ${repaired.actions[1]!.jobId}`
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

  it.effect("a profile deleted by hand: its jobs, aggregate and analyses are deleted", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const seeded = yield* seedHealthy("deleted-by-hand")
          const kept = yield* seedHealthy("kept")
          const profileId = seeded.profile.id
          const sql = yield* SqlClient.SqlClient
          yield* sql`DELETE FROM pi_posts WHERE profile_id = ${profileId}`
          yield* sql`DELETE FROM pi_profiles WHERE id = ${profileId}`
          const found = yield* violationsNow
          expect(found.map((v) => v._tag)).toEqual(["OrphanAnalyses", "RowsOfMissingProfile"])
          expect(found[1]).toEqual({
            _tag: "RowsOfMissingProfile",
            profileId,
            jobIds: [seeded.jobId],
            aggregate: true,
            repair: "DeleteProfileRows"
          })
          const repaired = yield* repair
          expect(actionsOf(repaired)).toEqual([
            ["deleted-analyses", "applied", ["OrphanAnalyses"]],
            ["deleted-profile-rows", "applied", ["RowsOfMissingProfile"]]
          ])
          const left = (table: string) =>
            scalar((sql) =>
              sql`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE profile_id = ${profileId}`
            )
          expect([
            yield* left("pi_jobs"),
            yield* left("pi_profile_insights"),
            yield* left("pi_post_analyses")
          ]).toEqual([0, 0, 0])
          expect(yield* stateOf(kept.profile.id)).toMatchObject({ analysed: 12, aggregated: 12 })
          expect((yield* auditRows).map((r) => r.action).sort()).toEqual([
            "deleted-analyses",
            "deleted-profile-rows"
          ])
          yield* settled
        })
      )
    }))

  /** Every corruption above, each on its own profile. */
  const corruptAll = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const t = yield* Clock.currentTimeMillis
    const misspelt = yield* seedHealthy("all-misspelt")
    const runing = yield* insertJob({
      profileId: misspelt.profile.id,
      kind: "refresh",
      status: "runing" as JobStatus,
      createdAt: t
    })
    const counters = yield* seedHealthy("all-counters")
    yield* sql`UPDATE pi_jobs SET done = 5000, total = -1 WHERE id = ${counters.jobId}`
    const truncated = yield* seedHealthy("all-truncated")
    yield* sql`UPDATE pi_post_analyses SET result = '{"sentiment":'
      WHERE post_id = ${truncated.posts[0]!.id}`
    const nulled = yield* seedHealthy("all-null")
    yield* sql`UPDATE pi_post_analyses SET result = NULL WHERE post_id = ${nulled.posts[1]!.id}`
    const garbage = yield* seedHealthy("all-garbage")
    yield* sql`UPDATE pi_profile_insights SET body = 'garbage'
      WHERE profile_id = ${garbage.profile.id}`
    const deleted = yield* seedHealthy("all-deleted")
    yield* sql`DELETE FROM pi_posts WHERE profile_id = ${deleted.profile.id}`
    yield* sql`DELETE FROM pi_profiles WHERE id = ${deleted.profile.id}`
    const healthy = yield* seedHealthy("all-healthy")
    return { misspelt, runing, counters, truncated, nulled, garbage, deleted, healthy }
  })

  it.effect("validate on a database with every corruption at once reports all of them", () =>
    Effect.gen(function* () {
      const { host, runner } = yield* setup
      const seeded = yield* host(
        Effect.gen(function* () {
          const s = yield* corruptAll
          for (const pageSize of [1, 3, 100]) {
            const report = yield* Effect.flatMap(Validator.Validator, (v) =>
              v.validate({ pageSize })
            )
            expect(report.profiles).toBe(6)
            expect(report.counts).toMatchObject({
              UndecodableRow: 5,
              OrphanAnalyses: 1,
              RowsOfMissingProfile: 1
            })
            expect(report.violations.map(Validator.keyOf).sort()).toEqual([
              `OrphanAnalyses:${s.deleted.profile.id}`,
              `RowsOfMissingProfile:${s.deleted.profile.id}`,
              `UndecodableRow:pi_jobs:${s.counters.profile.id}:${s.counters.jobId}:`,
              `UndecodableRow:pi_jobs:${s.misspelt.profile.id}:${s.runing}:`,
              `UndecodableRow:pi_post_analyses:${s.nulled.profile.id}:${s.nulled.posts[1]!.id}:${VERSION}`,
              `UndecodableRow:pi_post_analyses:${s.truncated.profile.id}:${s.truncated.posts[0]!.id}:${VERSION}`,
              `UndecodableRow:pi_profile_insights:${s.garbage.profile.id}:${s.garbage.profile.id}:`
            ].sort())
          }
          const repaired = yield* repair
          expect(repaired.actions.filter((a) => a.outcome !== "applied")).toEqual([])
          yield* settled
          return s
        })
      )
      for (const s of [seeded.truncated, seeded.nulled, seeded.garbage]) {
        yield* runner(runUntilAggregated(s.profile.id))
      }
      yield* host(settled)
    }))

  it.effect("a repair that fails is recorded as failed and the others go on", () =>
    Effect.gen(function* () {
      const { host } = yield* setup
      yield* host(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const blocked = yield* seedHealthy("blocked")
          const other = yield* seedHealthy("other")
          for (const s of [blocked, other]) {
            yield* sql`UPDATE pi_profile_insights SET body = 'garbage'
              WHERE profile_id = ${s.profile.id}`
          }
          // The deletion of one aggregate fails, as a broken row or disk would.
          yield* sql.onDialectOrElse({
            pg: () =>
              Effect.zipRight(
                sql.unsafe(`CREATE FUNCTION pi_test_block() RETURNS trigger AS $$
                  BEGIN RAISE EXCEPTION 'blocked by test'; END $$ LANGUAGE plpgsql`),
                sql.unsafe(`CREATE TRIGGER pi_test_block BEFORE DELETE ON pi_profile_insights
                  FOR EACH ROW WHEN (OLD.profile_id = '${blocked.profile.id}')
                  EXECUTE FUNCTION pi_test_block()`)
              ),
            orElse: () =>
              sql.unsafe(`CREATE TRIGGER pi_test_block BEFORE DELETE ON pi_profile_insights
                WHEN OLD.profile_id = '${blocked.profile.id}'
                BEGIN SELECT RAISE(ABORT, 'blocked by test'); END`)
          })
          const repaired = yield* repair
          const byProfile = (id: string) =>
            repaired.actions.filter((a) => a.profileId === id).map((a) => [a.action, a.outcome])
          expect(byProfile(blocked.profile.id)).toEqual([
            ["deleted-aggregate", "failed"],
            ["submitted-job", "applied"]
          ])
          expect(byProfile(other.profile.id)).toEqual([
            ["deleted-aggregate", "applied"],
            ["submitted-job", "applied"]
          ])
        })
      )
    }))
})
