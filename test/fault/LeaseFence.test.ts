/**
 * A worker frozen (SIGSTOP) in the middle of a post for longer than its
 * lease: another worker takes the job over, and when the frozen one wakes
 * up its late checkpoint is refused by the epoch fence and it stops
 * working on the job.
 *
 * Each stored analysis names the process that made it ("pid:<pid>" in its
 * keywords), so the test can see whose writes committed; the worker
 * prints each store write that fails ("span JobStore.checkpoint failed
 * LeaseLost"), so the test can see the late write being refused.
 */
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { Insights, isTerminal, type Job } from "../../src/index.js"
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

const leaseMillis = 1000
const heartbeatMillis = 333
const postMillis = 500
const pauseMillis = 3000

/**
 * Freezes the worker running the job in the middle of a post, at a moment
 * chosen so that, once woken, its post ends before its next heartbeat is
 * due: its first write after waking is the post's checkpoint, so the
 * fence, not a heartbeat, is what must stop it.
 *
 * The moment: the last heartbeat (the lease expiry less the lease) came
 * more than `postMillis - heartbeatMillis` after the post's analyzer call
 * started (the calls file has that time), plus a margin, and the call
 * still has a margin to run. Tries the third to the tenth post; about two
 * thirds of posts offer such a moment.
 */
const freezeBeforeHeartbeat = (
  status: Effect.Effect<Job, unknown>,
  callsFile: string,
  workers: ReadonlyArray<Worker>
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      const calls = yield* readCalls(callsFile)
      const job = yield* Effect.orDie(status)
      const last = calls[calls.length - 1]
      const beatAt = (job.leaseExpiresAt?.getTime() ?? 0) - leaseMillis
      if (
        last !== undefined && calls.length >= 3 && calls.length <= 10 &&
        beatAt - last.startedAt > postMillis - heartbeatMillis + 40 &&
        Date.now() < last.startedAt + postMillis - 60
      ) {
        const frozen = workers.find((w) => w.pid === last.pid)!
        yield* frozen.signal("SIGSTOP")
        expect(calls.every((c) => c.pid === frozen.pid)).toBe(true)
        return {
          frozen,
          inFlight: last.postId,
          doneAtFreeze: calls.length - 1,
          frozenAt: Date.now()
        }
      }
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage("no moment to freeze the worker came within 15 seconds")
  })

describe.each(adapters)("a worker frozen past its lease on $name", (adapter) => {
  it.live("loses the job to another worker and cannot write to it", () =>
    withDatabase(adapter, (database) =>
      Effect.gen(function* () {
        const api = yield* Insights.Insights
        const sql = yield* SqlClient.SqlClient
        const callsFile = tempCallsFile()
        const config: WorkerConfig = {
          storage: database.spec,
          runner: {
            leaseMillis,
            heartbeatMillis,
            pollMillis: 100,
            jobConcurrency: 1,
            postConcurrency: 1
          },
          analyzer: { delayMillis: postMillis, callsFile }
        }
        const { profile } = yield* api.importProfile("alice", ownProfile("frozen", twelveCaptions))
        const workers = yield* Effect.all(
          [spawn("one", config), spawn("two", config)],
          { concurrency: 2 }
        )
        const job = yield* api.submit("alice", profile.id)

        const { frozen, inFlight, doneAtFreeze, frozenAt } = yield* freezeBeforeHeartbeat(
          api.status("alice", job.id),
          callsFile,
          workers
        )
        const other = workers.find((w) => w !== frozen)!

        const takenOver = yield* waitUntil(
          "the other worker to take the job over",
          api.status("alice", job.id),
          (j) => j.leaseHolder === `worker-${other.pid}`,
          { timeout: leaseMillis + 4000, interval: "20 millis" }
        )
        const takeoverMillis = Date.now() - frozenAt
        expect(takenOver).toMatchObject({ status: "running", attempt: 2 })
        expect(takenOver.epoch).toBe(2)

        // The pause itself is the fault being injected, not a wait for a result.
        yield* Effect.sleep(Math.max(0, pauseMillis - (Date.now() - frozenAt)))
        const callsBeforeWake = (yield* readCalls(callsFile)).filter(
          (c) => c.pid === frozen.pid
        ).length
        yield* frozen.signal("SIGCONT")
        const woke = yield* frozen.waitForLine(/lease lost/, "5 seconds")

        const done = yield* waitUntil(
          "the job to finish",
          api.status("alice", job.id),
          (j) => isTerminal(j.status),
          { timeout: "15 seconds", interval: "20 millis" }
        )
        const finishedMillis = Date.now() - frozenAt
        expect(done).toMatchObject({ status: "succeeded", done: 12, total: 12, failed: 0 })

        const allCalls = yield* readCalls(callsFile)
        const byFrozen = allCalls.filter((c) => c.pid === frozen.pid)
        const byOther = allCalls.filter((c) => c.pid === other.pid)
        console.log(
          `[${adapter.name}] frozen after ${doneAtFreeze} posts; ` +
            `takeover ${takeoverMillis} ms after SIGSTOP, ` +
            `succeeded ${finishedMillis} ms after; calls ${allCalls.length} ` +
            `(frozen ${byFrozen.length}, other ${byOther.length}); ` +
            `frozen worker logged: ${woke.trim()}`
        )
        // Woken up, the frozen worker made its late checkpoint, which the
        // fence refused, and called the analyzer no more.
        expect(yield* frozen.output).toMatch(/span JobStore\.checkpoint failed LeaseLost/)
        expect(byFrozen).toHaveLength(callsBeforeWake)
        expect(byFrozen).toHaveLength(doneAtFreeze + 1)
        expect(byOther).toHaveLength(12 - doneAtFreeze)
        expect(allCalls.length).toBeLessThanOrEqual(13)
        expect(new Set(byOther.map((c) => c.postId)).size).toBe(byOther.length)

        const rows = yield* sql<{ post_id: string; result: string }>`
          SELECT post_id, result FROM pi_post_analyses WHERE profile_id = ${profile.id}`
        expect(rows).toHaveLength(12)
        expect(new Set(rows.map((r) => r.post_id)).size).toBe(12)
        const madeBy = (pid: number) =>
          rows.filter((r) => r.result.includes(`"pid:${pid}"`)).map((r) => r.post_id)
        // The frozen worker's late checkpoint of the post in flight was
        // refused: that post's analysis is the other worker's.
        expect(madeBy(frozen.pid)).toHaveLength(doneAtFreeze)
        expect(madeBy(frozen.pid)).not.toContain(inFlight)
        expect(madeBy(other.pid)).toHaveLength(12 - doneAtFreeze)
        expect(madeBy(other.pid)).toContain(inFlight)

        const aggregates = yield* sql<{ job_id: string; watermark_count: unknown }>`
          SELECT job_id, watermark_count FROM pi_profile_insights
          WHERE profile_id = ${profile.id}`
        expect(aggregates).toHaveLength(1)
        expect(aggregates[0]!.job_id).toBe(job.id)
        expect(Number(aggregates[0]!.watermark_count)).toBe(12)

        // The frozen worker is alive and still shuts down cleanly.
        expect(yield* frozen.hasExited).toBe(false)
        yield* Effect.forEach(workers, (w) => w.signal("SIGTERM"))
        const exits = yield* Effect.forEach(workers, (w) =>
          w.exited.pipe(Effect.timeout("10 seconds"))
        )
        expect(exits).toEqual([
          { code: 0, signal: null },
          { code: 0, signal: null }
        ])
      })
    ), { timeout: 45_000 })
})
