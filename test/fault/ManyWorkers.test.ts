/**
 * Three worker processes on one database share fifty jobs while the host
 * submits them: every job succeeds, every post is analysed exactly once,
 * and no worker meets a lock error (SQLite busy, Postgres deadlock) or
 * logs a warning.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Insights } from "../../src/index.js"
import { adapters, count, withDatabase } from "../support/FaultDatabase.js"
import { ownProfile } from "../support/Fixtures.js"
import {
  readCalls,
  spawn,
  tempCallsFile,
  waitUntil,
  type WorkerConfig
} from "../support/WorkerProcess.js"

const jobCount = 50
const postsPerProfile = 4

const captions = Array.from(
  { length: postsPerProfile },
  (_, i) => (i % 2 === 0 ? `good food ${i}` : `sad news ${i}`)
)

const lockErrors = /SQLITE_BUSY|database is locked|deadlock|40P01/i
const warnings = /\b(WARN|ERROR|FATAL)\b/

describe.each(adapters)("three workers on one database on $name", (adapter) => {
  it.live(`run ${jobCount} jobs, each post exactly once, without lock errors`, () =>
    withDatabase(adapter, (database) =>
      Effect.gen(function* () {
        const api = yield* Insights.Insights
        const callsFile = tempCallsFile()
        const config: WorkerConfig = {
          storage: database.spec,
          runner: { leaseMillis: 2000, pollMillis: 50, jobConcurrency: 3, postConcurrency: 2 },
          analyzer: { delayMillis: 5, callsFile }
        }
        const profiles = yield* Effect.forEach(
          Array.from({ length: jobCount }, (_, i) => ownProfile(`crowd-${i}`, captions)),
          (imported) => Effect.map(api.importProfile("alice", imported), (s) => s.profile)
        )
        const workers = yield* Effect.all(
          [1, 2, 3].map((n) => spawn(`w${n}`, config)),
          { concurrency: 3 }
        )

        const startedAt = Date.now()
        const jobs = yield* Effect.forEach(
          profiles,
          (profile) => api.submit("alice", profile.id),
          { concurrency: 5 }
        )
        expect(new Set(jobs.map((j) => j.id)).size).toBe(jobCount)
        yield* waitUntil(
          "every job to end",
          count((sql) => sql`SELECT count(*) AS n FROM pi_jobs
            WHERE status IN ('succeeded', 'failed', 'cancelled')`),
          (n) => n === jobCount,
          { timeout: "40 seconds", interval: "50 millis" }
        )
        const elapsed = Date.now() - startedAt

        const finished = yield* Effect.forEach(jobs, (j) => api.status("alice", j.id))
        expect(finished.filter((j) => j.status !== "succeeded")).toEqual([])
        expect(finished.every((j) => j.done === postsPerProfile && j.attempt === 1)).toBe(true)

        const calls = yield* readCalls(callsFile)
        const posts = jobCount * postsPerProfile
        const perWorker = workers.map((w) => calls.filter((c) => c.pid === w.pid).length)
        console.log(
          `[${adapter.name}] ${jobCount} jobs in ${elapsed} ms; ` +
            `${calls.length} analyzer calls, per worker ${perWorker.join("/")}`
        )
        expect(calls).toHaveLength(posts)
        expect(new Set(calls.map((c) => c.postId)).size).toBe(posts)
        expect(
          yield* count((sql) => sql`SELECT count(*) AS n FROM pi_post_analyses`)
        ).toBe(posts)
        expect(
          yield* count((sql) => sql`SELECT count(*) AS n FROM pi_post_analyses p
            WHERE NOT EXISTS (SELECT 1 FROM pi_posts q WHERE q.id = p.post_id)`)
        ).toBe(0)
        expect(
          yield* count((sql) => sql`SELECT count(*) AS n FROM pi_profile_insights
            WHERE watermark_count = ${postsPerProfile}`)
        ).toBe(jobCount)

        yield* Effect.forEach(workers, (w) => w.signal("SIGTERM"))
        const exits = yield* Effect.forEach(workers, (w) =>
          w.exited.pipe(Effect.timeout("10 seconds"))
        )
        expect(exits.map((e) => e.code)).toEqual([0, 0, 0])
        for (const worker of workers) {
          const output = yield* worker.output
          expect(output, `output of ${worker.name}`).not.toMatch(lockErrors)
          expect(output, `output of ${worker.name}`).not.toMatch(warnings)
        }
      })
    ), { timeout: 60_000 })
})
