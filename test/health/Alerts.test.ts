/**
 * Alert rules evaluated on their schedule against a real database, on
 * every adapter, with the test's clock: the clock moves, the schedule
 * evaluates, the sink hears each rule fire and clear.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, HashMap, Layer, Logger, Option, Queue, TestClock } from "effect"
import * as Alerts from "../../src/Alerts.js"
import * as Health from "../../src/Health.js"
import { JobStore } from "../../src/index.js"
import { storages } from "../support/Storage.js"
import { profileWith, recordRepair, storesLayer } from "./Support.js"

const minutes = (m: number) => m * 60_000

describe.each(storages.filter((s) => s.available))("alerts on $name", (storage) => {
  it.effect("each rule fires, then clears, as the clock moves", () =>
    Effect.gen(function* () {
      const database = yield* storage.fresh
      const received = yield* Queue.unbounded<Alerts.Alert>()
      const snapshots = yield* Queue.unbounded<number>()
      // The real Health, telling the test when a snapshot has been taken;
      // the rest of an evaluation runs without waiting on anything.
      const health = Layer.effect(
        Health.Health,
        Effect.map(Health.make({ repairWindow: "10 minutes" }), (h) => ({
          snapshot: Effect.tap(h.snapshot, (s) => Queue.offer(snapshots, s.takenAt.getTime()))
        }))
      )
      const sink = Layer.succeed(Alerts.AlertSink, {
        notify: (alert) => Queue.offer(received, alert)
      })
      const alerting = Alerts.layerFromHealth({ interval: "30 seconds" }).pipe(
        Layer.provide(Layer.merge(health, sink))
      )

      yield* Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const [p1, p2] = [yield* profileWith("one"), yield* profileWith("two")]
        yield* jobs.submit({ owner: "alice", profileId: p1, kind: "analyze" })

        const alerts = Context.get(yield* Layer.build(alerting), Alerts.Alerts)
        expect(yield* Queue.take(snapshots)).toBe(0)
        /** Moves the clock to the next evaluation and waits for its snapshot. */
        const tick = Effect.gen(function* () {
          yield* TestClock.adjust("30 seconds")
          return yield* Queue.take(snapshots)
        })
        const tickUntil = (millis: number) =>
          Effect.gen(function* () {
            let at = 0
            while (at < millis) at = yield* tick
            expect(at).toBe(millis)
          })

        // The job has waited exactly 5 minutes: not yet too long.
        yield* tickUntil(minutes(5))
        expect(yield* Queue.size(received)).toBe(0)
        yield* tickUntil(minutes(5.5))
        // A runner finally takes it, and it fails.
        const job = Option.getOrThrow(yield* jobs.claim("r1", 60_000))
        yield* jobs.fail({ jobId: job.id, epoch: job.epoch }, "broken")
        yield* tickUntil(minutes(6))
        expect(yield* alerts.firing).toHaveLength(1)
        // A second job whose runner dies 10 seconds in.
        yield* jobs.submit({ owner: "alice", profileId: p2, kind: "analyze" })
        const stuck = Option.getOrThrow(yield* jobs.claim("r2", 10_000))
        yield* tickUntil(minutes(6.5))
        // Another runner takes it over; the owner cancels it.
        yield* jobs.claim("r3", 600_000)
        yield* jobs.cancel("alice", stuck.id)
        yield* recordRepair({ runId: "run-1", violation: "StaleAggregate" })
        yield* recordRepair({ runId: "run-2", violation: "StaleAggregate" })
        yield* recordRepair({ runId: "run-3", violation: "StaleAggregate" })
        yield* recordRepair({ runId: "run-3", violation: "OrphanAnalyses" })
        yield* tickUntil(minutes(7))
        yield* tickUntil(minutes(18))

        const seen = Chunk.toReadonlyArray(yield* Queue.takeAll(received)).map((a) => [
          a.rule,
          a.state,
          a.at.getTime() / 60_000,
          a.firingSince.getTime() / 60_000
        ])
        expect(seen).toEqual([
          ["queued-job-too-old", "firing", 5.5, 5.5],
          ["queued-job-too-old", "cleared", 6, 5.5],
          ["job-failure-rate", "firing", 6, 6],
          ["stalled-job", "firing", 6.5, 6.5],
          ["stalled-job", "cleared", 7, 6.5],
          ["repeated-repairs", "firing", 7, 7],
          // The failure at 5.5 minutes leaves the 10 minute window.
          ["job-failure-rate", "cleared", 16, 6],
          // The repairs at 6.5 minutes leave the 10 minute repair window.
          ["repeated-repairs", "cleared", 17, 7]
        ])
        expect(yield* alerts.firing).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(storesLayer(database())))
    })
  )

  it.effect("the alerts say what fired, and the log sink is the default", () =>
    Effect.gen(function* () {
      const logged: Array<Record<string, unknown>> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        const get = (key: string) => Option.getOrNull(HashMap.get(annotations, key))
        logged.push({
          level: logLevel.label,
          message: Array.isArray(message) ? message.join(" ") : message,
          rule: get("rule"),
          severity: get("severity")
        })
      })
      const database = yield* storage.fresh
      yield* Effect.gen(function* () {
        const jobs = yield* JobStore.JobStore
        const profileId = yield* profileWith("old")
        const job = yield* jobs.submit({ owner: "alice", profileId, kind: "analyze" })
        yield* TestClock.adjust("6 minutes")
        const alerts = yield* Alerts.make()
        const [fired] = yield* alerts.evaluate
        expect(fired).toMatchObject({
          rule: "queued-job-too-old",
          state: "firing",
          severity: "warning",
          summary: `job ${job.id} has waited 6m for a runner (limit 5m); 1 due job(s) queued`,
          details: {
            jobId: job.id,
            profileId,
            waitingMillis: 360_000,
            limitMillis: 300_000,
            due: 1
          }
        })
        // Firing already: no news.
        yield* TestClock.adjust("1 minute")
        expect(yield* alerts.evaluate).toEqual([])
        expect((yield* alerts.firing).map((a) => a.rule)).toEqual(["queued-job-too-old"])
        expect(logged).toEqual([
          {
            level: "WARN",
            message: `alert firing: ${fired!.summary}`,
            rule: "queued-job-too-old",
            severity: "warning"
          }
        ])
      }).pipe(
        Effect.provide(storesLayer(database())),
        Effect.provide(Logger.replace(Logger.defaultLogger, capture))
      )
    })
  )
})

describe("alert rules", () => {
  const snapshot = (patch: {
    readonly failed?: number
    readonly succeeded?: number
    readonly runs?: number
  }) => {
    const failed = patch.failed ?? 0
    const succeeded = patch.succeeded ?? 0
    const ended = failed + succeeded
    return new Health.HealthSnapshot({
      takenAt: new Date(0),
      jobs: new Health.JobCounts({ queued: 0, running: 0, succeeded, failed, cancelled: 0 }),
      due: 0,
      oldestQueued: null,
      running: 0,
      stalled: 0,
      stalledJobs: [],
      recent: new Health.RecentActivity({
        windowMillis: 600_000,
        succeeded,
        failed,
        cancelled: 0,
        retried: 0,
        failureRate: ended === 0 ? null : failed / ended
      }),
      analyzerLatency: new Health.AnalyzerLatency({
        source: "process",
        calls: 0,
        p50Millis: null,
        p95Millis: null
      }),
      repairs: new Health.RepairActivity({
        recorded: true,
        last: null,
        windowMillis: 86_400_000,
        recentByViolation: patch.runs === undefined ? [] : [
          new Health.RepairCount({ violation: "StaleAggregate", repairs: 9, runs: patch.runs })
        ]
      })
    })
  }

  it("the failure rate fires above 20%, not at it, and honours a minimum", () => {
    const rule = Alerts.failureRate()
    expect(Option.isSome(rule.check(snapshot({ failed: 1, succeeded: 4 })))).toBe(false)
    expect(Option.isSome(rule.check(snapshot({ failed: 2, succeeded: 7 })))).toBe(true)
    expect(Option.isSome(rule.check(snapshot({})))).toBe(false)
    const patient = Alerts.failureRate({ minFinished: 5 })
    expect(Option.isSome(patient.check(snapshot({ failed: 2, succeeded: 0 })))).toBe(false)
    expect(Option.getOrThrow(rule.check(snapshot({ failed: 3, succeeded: 1 }))).summary).toBe(
      "3 of 4 jobs failed in the last 10m (75.0%, limit 20.0%)"
    )
  })

  it("repeated repairs count runs, not rows", () => {
    const rule = Alerts.repeatedRepairs()
    expect(Option.isSome(rule.check(snapshot({ runs: 2 })))).toBe(false)
    expect(Option.getOrThrow(rule.check(snapshot({ runs: 3 }))).summary).toBe(
      "repaired again and again in the last 1d: StaleAggregate (3 runs, 9 repairs)"
    )
  })
})
