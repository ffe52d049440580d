/**
 * The validate and repair commands, run in this process against a
 * database a crash left behind: a job running on an expired lease with 5
 * of 12 posts analysed.
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Logger, LogLevel } from "effect"
import { afterEach, vi } from "vitest"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import * as Commands from "../../examples/cli/ConsistencyCommands.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import { freshPostgresDatabase, postgresAvailable, tempDatabase } from "../support/Storage.js"
import { hostLayer, insertAnalyses, insertJob, seedProfile, VERSION } from "./Seed.js"

const cli = Command.run(
  Command.make("profile-insights").pipe(
    Command.withSubcommands([Commands.validate, Commands.repair])
  ),
  { name: "profile-insights", version: "test" }
)

/** Runs the command line; what it printed on stdout and the exit code it set. */
const run = (...args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const printed: Array<string> = []
    const log = vi.spyOn(console, "log").mockImplementation((...xs: Array<unknown>) => {
      printed.push(xs.join(" "))
    })
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined)
    process.exitCode = 0
    yield* cli(["node", "profile-insights", ...args]).pipe(
      Effect.provide(NodeContext.layer),
      Logger.withMinimumLogLevel(LogLevel.Warning),
      Effect.ensuring(Effect.sync(() => {
        log.mockRestore()
        error.mockRestore()
      }))
    )
    const code = Number(process.exitCode ?? 0)
    process.exitCode = 0
    return { stdout: printed.join("\n"), code }
  })

afterEach(() => {
  process.exitCode = 0
})

const databases = [
  { name: "sqlite", available: true, url: Effect.sync(tempDatabase) },
  { name: "postgres", available: postgresAvailable, url: Effect.promise(freshPostgresDatabase) }
].filter((d) => d.available)

describe.each(databases)("validate and repair commands on $name", (database) => {
  it.live("find the crashed job, release it, run it with --wait, and come back clean", () =>
    Effect.gen(function* () {
      const url = yield* database.url
      const scripted = yield* ScriptedAnalyzer.make(VERSION)
      const storage = database.name === "sqlite"
        ? SqliteStorage.layer({ filename: url })
        : PgStorage.layer({ url })
      const jobId = yield* Effect.gen(function* () {
        const t = yield* Clock.currentTimeMillis
        const seeded = yield* seedProfile("crashed")
        const jobId = yield* insertJob({
          profileId: seeded.profile.id,
          status: "running",
          done: 5,
          total: 12,
          leaseHolder: "runner-killed",
          leaseExpiresAt: t - 1000,
          createdAt: t - 60_000
        })
        yield* insertAnalyses(seeded.profile.id, seeded.posts.slice(0, 5), { at: t - 30_000, jobId })
        return jobId
      }).pipe(Effect.provide(hostLayer(storage, scripted.layer)))

      const found = yield* run("validate", "--db", url, "--json")
      expect(found.code).toBe(1)
      const report = JSON.parse(found.stdout)
      expect(report.clean).toBe(false)
      expect(report.counts.ExpiredLease).toBe(1)
      expect(report.violations).toMatchObject([
        { _tag: "ExpiredLease", jobId, leaseHolder: "runner-killed", repair: "ReleaseLease" }
      ])

      const text = yield* run("validate", "--db", url)
      expect(text.code).toBe(1)
      expect(text.stdout).toContain("1 violation(s).")
      expect(text.stdout).toContain(`ExpiredLease: job ${jobId} is running on a lease of runner-killed`)
      expect(text.stdout).toContain("-> ReleaseLease")

      const repaired = yield* run("repair", "--db", url, "--wait")
      expect(repaired.code).toBe(0)
      expect(repaired.stdout).toMatch(/1 change\(s\) applied, 0 skipped/)
      expect(repaired.stdout).toContain(`applied released-lease`)

      const clean = yield* run("validate", "--db", url, "--json")
      expect(clean.code).toBe(0)
      expect(JSON.parse(clean.stdout)).toMatchObject({ clean: true, violations: [], profiles: 1 })

      const again = yield* run("repair", "--db", url, "--json")
      expect(again.code).toBe(0)
      expect(JSON.parse(again.stdout)).toMatchObject({ changed: 0, actions: [], violations: [] })
    }), 60_000)
})
