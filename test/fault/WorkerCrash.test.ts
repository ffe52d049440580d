/**
 * A worker process that ends in the middle of a job. SIGKILLed: no hand
 * back, no finalizer; the job's lease runs out, another worker process
 * claims it and finishes from the checkpoints the dead one committed.
 * SIGTERMed: the worker hands the job back as it shuts down, and another
 * takes it at once, long before the lease would have run out.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Insights, isTerminal } from "../../src/index.js"
import { adapters, count, withDatabase } from "../support/FaultDatabase.js"
import { ownProfile, twelveCaptions } from "../support/Fixtures.js"
import {
  readCalls,
  spawn,
  tempCallsFile,
  waitUntil,
  type WorkerConfig
} from "../support/WorkerProcess.js"

const leaseMillis = 2000
const postMillis = 200

describe.each(adapters)("a worker ending mid-job on $name", (adapter) => {
  it.live("another worker finishes the job from the dead one's checkpoints", () =>
    withDatabase(adapter, (database) =>
      Effect.gen(function* () {
        const api = yield* Insights.Insights
        const sql = yield* SqlClient.SqlClient
        const callsFile = tempCallsFile()
        const config: WorkerConfig = {
          storage: database.spec,
          runner: { leaseMillis, pollMillis: 100, jobConcurrency: 1, postConcurrency: 1 },
          analyzer: { delayMillis: postMillis, callsFile }
        }
        const { profile } = yield* api.importProfile("alice", ownProfile("killed", twelveCaptions))

        const first = yield* spawn("first", config)
        const job = yield* api.submit("alice", profile.id)
        // The sixth call starts only after the fifth post's checkpoint.
        yield* waitUntil("the sixth analyzer call", readCalls(callsFile), (c) => c.length >= 6, {
          timeout: "20 seconds",
          interval: "5 millis"
        })
        yield* first.signal("SIGKILL")
        const killedAt = Date.now()
        expect(yield* first.exited).toEqual({ code: null, signal: "SIGKILL" })
        const callsAtKill = yield* readCalls(callsFile)
        const atKill = yield* api.status("alice", job.id)
        // Killed in the sixth call (or, on a slow machine, a later one).
        expect(atKill).toMatchObject({ status: "running", attempt: 1 })
        expect(atKill.done).toBeGreaterThanOrEqual(5)
        expect(atKill.done).toBeGreaterThanOrEqual(callsAtKill.length - 1)
        expect(atKill.done).toBeLessThanOrEqual(callsAtKill.length)
        const checkpointed = new Set(
          (yield* sql<{ post_id: string }>`SELECT post_id FROM pi_post_analyses
            WHERE profile_id = ${profile.id}`).map((r) => r.post_id)
        )
        expect(checkpointed.size).toBe(atKill.done)

        const second = yield* spawn("second", config)
        const readyAt = Date.now()
        const done = yield* waitUntil(
          "the job to finish",
          api.status("alice", job.id),
          (j) => isTerminal(j.status),
          { timeout: leaseMillis + 8000, interval: "20 millis" }
        )
        const finishedAt = Date.now()
        console.log(
          `[${adapter.name}] SIGKILL -> succeeded in ${finishedAt - killedAt} ms ` +
            `(second worker ready after ${readyAt - killedAt} ms, ` +
            `finished ${finishedAt - readyAt} ms later)`
        )
        expect(done).toMatchObject({
          status: "succeeded",
          done: 12,
          failed: 0,
          total: 12,
          attempt: 2
        })
        expect(done.progressLine).toBe("Progress: 100% (12/12 posts processed)")
        // The lease has to run out, then seven posts remain: measured from
        // when the second worker is ready, as its start-up is not the
        // library's.
        expect(finishedAt - readyAt).toBeLessThan(leaseMillis + 4000)

        const calls = yield* readCalls(callsFile)
        const bySecond = calls.filter((c) => c.pid === second.pid).map((c) => c.postId)
        console.log(
          `[${adapter.name}] killed at ${atKill.done}/12 after ${callsAtKill.length} calls; ` +
            `analyzer calls: ${calls.length} (second worker ${bySecond.length})`
        )
        expect(calls.length).toBeLessThanOrEqual(13)
        // The second worker analysed exactly what had no checkpoint.
        expect(bySecond.some((id) => checkpointed.has(id))).toBe(false)
        expect(new Set(bySecond).size).toBe(12 - checkpointed.size)

        expect(
          yield* count((sql) =>
            sql`SELECT count(*) AS n FROM pi_post_analyses WHERE profile_id = ${profile.id}`
          )
        ).toBe(12)
        const aggregates = yield* sql<{ job_id: string; watermark_count: unknown }>`
          SELECT job_id, watermark_count FROM pi_profile_insights
          WHERE profile_id = ${profile.id}`
        expect(aggregates).toHaveLength(1)
        expect(aggregates[0]!.job_id).toBe(job.id)
        expect(Number(aggregates[0]!.watermark_count)).toBe(12)
        const insights = yield* api.insights("alice", profile.id)
        expect(insights.posts).toEqual({ total: 12, analysed: 12, failed: 0 })
      })
    ), { timeout: 45_000 })

  it.live("a worker stopped with SIGTERM hands its job back for another to take at once", () =>
    withDatabase(adapter, (database) =>
      Effect.gen(function* () {
        const api = yield* Insights.Insights
        const callsFile = tempCallsFile()
        // A lease far longer than the test waits: only a hand back lets
        // the second worker in.
        const config: WorkerConfig = {
          storage: database.spec,
          runner: { leaseMillis: 60_000, pollMillis: 100, jobConcurrency: 1, postConcurrency: 1 },
          analyzer: { delayMillis: postMillis, callsFile }
        }
        const { profile } = yield* api.importProfile("alice", ownProfile("stopped", twelveCaptions))
        const first = yield* spawn("first", config)
        const job = yield* api.submit("alice", profile.id)
        yield* waitUntil("the sixth analyzer call", readCalls(callsFile), (c) => c.length >= 6, {
          timeout: "20 seconds",
          interval: "5 millis"
        })
        yield* first.signal("SIGTERM")
        const stoppedAt = Date.now()
        expect(yield* first.exited.pipe(Effect.timeout("10 seconds"))).toEqual({
          code: 0,
          signal: null
        })
        const exitMillis = Date.now() - stoppedAt
        expect(yield* first.output).toMatch(/job handed back/)
        const handedBack = yield* api.status("alice", job.id)
        expect(handedBack).toMatchObject({ status: "queued", leaseHolder: null, attempt: 0 })
        expect(handedBack.done).toBeGreaterThanOrEqual(5)

        const second = yield* spawn("second", config)
        const done = yield* waitUntil(
          "the job to finish",
          api.status("alice", job.id),
          (j) => isTerminal(j.status),
          { timeout: "10 seconds", interval: "20 millis" }
        )
        const finishedMillis = Date.now() - stoppedAt
        expect(done).toMatchObject({ status: "succeeded", done: 12, total: 12, attempt: 1 })
        const calls = yield* readCalls(callsFile)
        console.log(
          `[${adapter.name}] SIGTERM: exited 0 in ${exitMillis} ms, job done at ` +
            `${handedBack.done}/12, succeeded ${finishedMillis} ms after SIGTERM; ` +
            `calls ${calls.length} (second worker ` +
            `${calls.filter((c) => c.pid === second.pid).length})`
        )
        expect(calls.length).toBeLessThanOrEqual(13)
        expect(
          yield* count((sql) =>
            sql`SELECT count(*) AS n FROM pi_post_analyses WHERE profile_id = ${profile.id}`
          )
        ).toBe(12)
      })
    ), { timeout: 45_000 })
})
