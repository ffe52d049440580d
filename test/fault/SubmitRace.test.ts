/**
 * Two processes submit the same profile a few milliseconds apart: both get
 * one job, which runs once and leaves one aggregate.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Insights } from "../../src/index.js"
import { adapters, withDatabase } from "../support/FaultDatabase.js"
import { ownProfile, twelveCaptions } from "../support/Fixtures.js"
import {
  readCalls,
  spawn,
  tempCallsFile,
  waitUntil,
  type Worker,
  type WorkerConfig
} from "../support/WorkerProcess.js"

/** Milliseconds between the two submits, one profile each. */
const gaps = [5, 0, 0, 1, 2, 5]

const submitted = (worker: Worker) =>
  Effect.map(worker.lines, (lines) =>
    lines.flatMap((line) => {
      const match = /^submitted (\S+) started=(\d+) ended=(\d+)/.exec(line)
      return match === null
        ? []
        : [{ jobId: match[1]!, started: Number(match[2]), ended: Number(match[3]) }]
    })
  )

describe.each(adapters)("concurrent submits from two processes on $name", (adapter) => {
  it.live("give one job and one aggregate", () =>
    withDatabase(adapter, (database) =>
      Effect.gen(function* () {
        const api = yield* Insights.Insights
        const sql = yield* SqlClient.SqlClient
        const callsFile = tempCallsFile()
        const config: WorkerConfig = {
          storage: database.spec,
          runner: { leaseMillis: 2000, pollMillis: 50, jobConcurrency: 2, postConcurrency: 4 },
          analyzer: { delayMillis: 50, callsFile }
        }
        const profiles = yield* Effect.forEach(gaps, (_, i) =>
          Effect.map(
            api.importProfile("alice", ownProfile(`race-${i}`, twelveCaptions)),
            (saved) => saved.profile
          )
        )
        const [a, b] = yield* Effect.all(
          [spawn("a", config), spawn("b", config)],
          { concurrency: 2 }
        )

        const overlaps: Array<string> = []
        for (const [i, gap] of gaps.entries()) {
          const profile = profiles[i]!
          yield* a.send(`submit alice ${profile.id}`)
          yield* Effect.sleep(gap)
          yield* b.send(`submit alice ${profile.id}`)
          const [fromA, fromB] = yield* Effect.all(
            [a, b].map((w) =>
              waitUntil(`${w.name} to answer submit ${i + 1}`, submitted(w), (s) => s.length > i, {
                timeout: "10 seconds"
              }).pipe(Effect.map((s) => s[i]!))
            )
          )
          overlaps.push(
            `gap ${gap} ms: b started ${fromB!.started - fromA!.started} ms after a, ` +
              `a took ${fromA!.ended - fromA!.started} ms, b ${fromB!.ended - fromB!.started} ms`
          )
          expect(fromB!.jobId).toBe(fromA!.jobId)

          const done = yield* waitUntil(
            `job ${i + 1} to succeed`,
            api.status("alice", fromA!.jobId),
            (j) => j.status === "succeeded",
            { timeout: "15 seconds" }
          )
          expect(done).toMatchObject({ done: 12, total: 12, attempt: 1 })
          const jobs = yield* sql<{ id: string }>`SELECT id FROM pi_jobs
            WHERE profile_id = ${profile.id}`
          expect(jobs.map((j) => j.id)).toEqual([fromA!.jobId])
          const aggregates = yield* sql<{ job_id: string }>`SELECT job_id
            FROM pi_profile_insights WHERE profile_id = ${profile.id}`
          expect(aggregates.map((r) => r.job_id)).toEqual([fromA!.jobId])
        }
        console.log(`[${adapter.name}] submits: ${overlaps.join("; ")}`)

        // Every post of every profile was analysed exactly once.
        const calls = yield* readCalls(callsFile)
        expect(calls).toHaveLength(12 * gaps.length)
        expect(new Set(calls.map((c) => c.postId)).size).toBe(calls.length)
        const outputs = [yield* a.output, yield* b.output].join("\n")
        expect(outputs).not.toMatch(/submit-failed/)
      })
    ), { timeout: 45_000 })
})
