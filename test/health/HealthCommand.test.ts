/**
 * The health command of the CLI, run in this process on a database set up
 * with known jobs, on every adapter. What it prints is captured from the
 * Console.
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { health } from "../../examples/cli/HealthCommand.js"
import { JobStore } from "../../src/index.js"
import { freshPostgresDatabase, postgresAvailable, tempDatabase } from "../support/Storage.js"
import * as Storage from "../../examples/cli/Storage.js"
import { profileWith, recordRepair, storesLayer } from "./Support.js"

const cli = Command.run(
  Command.make("profile-insights").pipe(Command.withSubcommands([health])),
  { name: "profile-insights", version: "0.0.0" }
)

/** Runs the CLI with `args`; what it logged to the Console. */
const run = (...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const printed: Array<string> = []
    yield* Effect.consoleWith((console) =>
      cli(["node", "profile-insights", ...args]).pipe(
        Effect.withConsole({
          ...console,
          log: (...parts: ReadonlyArray<unknown>) =>
            Effect.sync(() => void printed.push(parts.join(" ")))
        })
      )
    )
    return printed.join("\n")
  }).pipe(Effect.provide(NodeContext.layer))

/** A queued job due six minutes ago, a stalled one, a failed one, a repair. */
const setUp = (db: string) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore.JobStore
    const [waiting, stalled, failed] = [
      yield* profileWith("waiting"),
      yield* profileWith("stalled"),
      yield* profileWith("failed")
    ]
    yield* jobs.submit({ owner: "alice", profileId: failed, kind: "analyze" })
    const broken = Option.getOrThrow(yield* jobs.claim("runner-1", 60_000))
    yield* jobs.fail({ jobId: broken.id, epoch: broken.epoch }, "broken")
    yield* jobs.submit({ owner: "alice", profileId: stalled, kind: "analyze" })
    const running = Option.getOrThrow(yield* jobs.claim("runner-gone", 1))
    const queued = yield* jobs.submit({
      owner: "alice",
      profileId: waiting,
      kind: "analyze",
      runAfter: new Date(Date.now() - 6 * 60_000)
    })
    yield* recordRepair({ runId: "run-1", violation: "StaleAggregate" })
    yield* Effect.sleep("20 millis")
    return { queued: queued.id, stalled: running.id }
  }).pipe(Effect.provide(storesLayer(Layer.orDie(Storage.fromDb(db)))))

const databases = [
  { name: "sqlite", available: true, fresh: Effect.sync(tempDatabase) },
  { name: "postgres", available: postgresAvailable, fresh: Effect.promise(freshPostgresDatabase) }
]

describe.each(databases.filter((d) => d.available))("profile-insights health on $name", (database) => {
  it.live("prints the queue, the stalled job, the failures, the repair and the checks", () =>
    Effect.gen(function* () {
      const db = yield* database.fresh
      const { queued, stalled } = yield* setUp(db)
      const text = yield* run("health", "--db", db)
      expect(text).toMatch(
        /^Jobs {9}queued 1 \(1 due\) · running 0 · stalled 1 · succeeded 0 · failed 1 · cancelled 0$/m
      )
      expect(text).toMatch(new RegExp(`^Oldest due   job ${queued} waiting 6m`, "m"))
      expect(text).toMatch(new RegExp(`^Stalled      job ${stalled} of runner-gone, lease expired`, "m"))
      expect(text).toContain("Last 10m     succeeded 0 · failed 1 (100.0%) · cancelled 0 · retried 0")
      expect(text).toContain("Analyzer     latency not measured in this process")
      expect(text).toMatch(/^Repairs {6}last StaleAggregate \(submitted-job\) by test/m)
      expect(text).toContain("WARNING queued-job-too-old: ")
      expect(text).toContain("CRITICAL job-failure-rate: 1 of 1 jobs failed in the last 10m")
      expect(text).toContain("WARNING stalled-job: 1 running job(s) with an expired lease")
      expect(text).not.toContain("repeated-repairs")
    })
  )

  it.live("--json prints the snapshot and the checks", () =>
    Effect.gen(function* () {
      const db = yield* database.fresh
      const { queued } = yield* setUp(db)
      const parsed = JSON.parse(yield* run("health", "--db", db, "--json", "--window", "60"))
      expect(parsed.jobs).toEqual({ queued: 1, running: 1, succeeded: 0, failed: 1, cancelled: 0 })
      expect(parsed.oldestQueued.jobId).toBe(queued)
      expect(parsed.oldestQueued.waitingMillis).toBeGreaterThanOrEqual(6 * 60_000)
      expect(parsed.recent).toMatchObject({ windowMillis: 3_600_000, failed: 1, failureRate: 1 })
      expect(parsed.analyzerLatency).toEqual({
        source: "process",
        calls: 0,
        p50Millis: null,
        p95Millis: null
      })
      expect(parsed.repairs.recentByViolation).toEqual([
        { violation: "StaleAggregate", repairs: 1, runs: 1 }
      ])
      expect(
        parsed.checks.map((c: { rule: string; firing: boolean }) => [c.rule, c.firing])
      ).toEqual([
        ["queued-job-too-old", true],
        ["job-failure-rate", true],
        ["stalled-job", true],
        ["repeated-repairs", false]
      ])
    })
  )
})
