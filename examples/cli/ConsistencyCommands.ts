/**
 * The validate and repair commands of the profile-insights command line.
 *
 *   profile-insights validate [--db PATH|URL] [--json] [--page-size N]
 *                             [--analyzer embedded|openai]
 *   profile-insights repair [--db PATH|URL] [--json] [--page-size N]
 *                           [--analyzer embedded|openai] [--kind KIND]...
 *                           [--wait]
 *
 * validate checks every invariant of the stored data and lists what is
 * wrong; it exits 1 when it finds anything. repair fixes what validate
 * finds and prints each change; work that needs the analyzer is queued as
 * jobs, which a worker runs (or this command, with --wait). Analyses are
 * expected at the version of the analyzer chosen as for analyze and
 * worker; the analyzer itself is built only to run jobs (--wait).
 */
import { Command, Options } from "@effect/cli"
import { SqlClient } from "@effect/sql"
import { Config, Console, Effect, Layer, Schema } from "effect"
import { EmbeddedAnalyzer } from "../../src/analyzer/EmbeddedAnalyzer.js"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"
import { Insights } from "../../src/index.js"
import * as Repairer from "../../src/Repairer.js"
import * as Validator from "../../src/Validator.js"
import { analyzer, type AnalyzerChoice, analyzerLayer } from "./AnalyzerOption.js"
import * as Storage from "./Storage.js"

const db = Options.text("db").pipe(
  Options.withDescription("a SQLite file or a postgres:// URL"),
  Options.withDefault(".profile-insights/profile-insights.db")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print the report as JSON instead of text")
)
const pageSize = Options.integer("page-size").pipe(
  Options.withDescription("profiles read per page, each page in one short read transaction"),
  Options.withDefault(100)
)

/**
 * The version analyses of the chosen analyzer carry, read without building
 * the analyzer (the embedded one loads its models, about a second).
 */
const versionOf = (choice: AnalyzerChoice) =>
  choice === "openai"
    ? Config.map(OpenAiAnalyzer.config, (options) => OpenAiAnalyzer.versionOf(options.model))
    : Config.succeed(EmbeddedAnalyzer.version)

/** The validator and the repairer over the database named by --db. */
const consistency = (database: string, choice: AnalyzerChoice) =>
  Repairer.layer.pipe(
    Layer.provideMerge(
      Layer.unwrapEffect(Effect.map(versionOf(choice), Validator.layerWithVersion))
    ),
    Layer.provideMerge(Insights.layerWithoutRunner),
    Layer.provideMerge(Storage.fromDb(database))
  )

const line = (v: Validator.Violation): string => {
  const ids = Validator.idsOf(v)
  const jobs = ids.jobIds.length === 0 ? "" : ` jobs=${ids.jobIds.join(",")}`
  return `  ${v._tag}: ${Validator.describe(v)}\n    profile=${ids.profileId}${jobs}` +
    ` -> ${v.repair}`
}

const renderValidation = (report: Validator.ValidationReport): string => {
  const millis = report.finishedAt.getTime() - report.startedAt.getTime()
  const head = `Validated ${report.profiles} profiles in ${report.pages} pages ` +
    `(${millis} ms) against analyzer ${report.analyzerVersion}: `
  if (report.clean) return `${head}no violations.`
  const counts = Object.entries(report.counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `  ${kind.padEnd(24)} ${n}`)
  return [
    `${head}${report.violations.length} violation(s).`,
    ...counts,
    "",
    ...report.violations.map(line)
  ].join("\n")
}

const renderRepair = (report: Repairer.RepairReport): string => {
  const skipped = report.actions.length - report.changed
  const head = `Repair ${report.runId} by ${report.actor}: ${report.violations.length} ` +
    `violation(s) in ${report.profiles} profiles; ${report.changed} change(s) applied, ` +
    `${skipped} skipped.`
  return [
    head,
    ...report.actions.map((a) => {
      const job = a.jobId === null ? "" : ` job=${a.jobId}`
      const posts = a.postIds.length === 0 ? "" : ` posts=${a.postIds.length}`
      return `  ${a.outcome.padEnd(7)} ${a.action.padEnd(18)} ` +
        `profile=${a.profileId}${job}${posts} (${a.violations.join(", ")}): ${a.reason}`
    })
  ].join("\n")
}

const encodeValidation = Schema.encode(Validator.ValidationReport)
const encodeRepair = Schema.encode(Repairer.RepairReport)

export const validate = Command.make("validate", { db, json, pageSize, analyzer }, (args) =>
  Effect.gen(function* () {
    const validator = yield* Validator.Validator
    const report = yield* validator.validate({ pageSize: args.pageSize })
    if (args.json) {
      const encoded = yield* encodeValidation(report)
      yield* Console.log(
        JSON.stringify({ ...encoded, clean: report.clean, counts: report.counts }, null, 2)
      )
    } else {
      yield* Console.log(renderValidation(report))
    }
    if (!report.clean) process.exitCode = 1
  }).pipe(Effect.provide(consistency(args.db, args.analyzer)))
).pipe(
  Command.withDescription(
    "check every invariant of the stored data; exit 1 when anything is wrong"
  )
)

const kind = Options.choice("kind", Validator.violationKinds).pipe(
  Options.withDescription("repair only violations of this kind (repeatable); default: all"),
  Options.repeated
)
const wait = Options.boolean("wait").pipe(
  Options.withDescription(
    "run the queued repair jobs in this process, with the chosen analyzer, and wait for them"
  )
)

export const repair = Command.make(
  "repair",
  { db, json, pageSize, analyzer, kind, wait },
  (args) =>
    Effect.gen(function* () {
      const report = yield* Effect.flatMap(Repairer.Repairer, (repairer) =>
        repairer.repair({
          pageSize: args.pageSize,
          kinds: args.kind.length === 0 ? undefined : args.kind,
          actor: `cli-${process.pid}`
        })
      ).pipe(Effect.provide(consistency(args.db, args.analyzer)))
      if (args.json) {
        const encoded = yield* encodeRepair(report)
        yield* Console.log(JSON.stringify({ ...encoded, changed: report.changed }, null, 2))
      } else {
        yield* Console.log(renderRepair(report))
      }
      const queued = report.actions.flatMap((a) =>
        a.outcome === "applied" && a.jobId !== null &&
          (a.action === "submitted-job" || a.action === "released-lease")
          ? [a.jobId]
          : []
      )
      if (!args.wait || queued.length === 0) return
      // Only now a runner: started before the repair, it would have taken
      // expired jobs itself and left the repair nothing to report.
      yield* Effect.gen(function* () {
        const api = yield* Insights.Insights
        for (const jobId of queued) {
          const job = yield* api.awaitJob(yield* jobOwner(jobId), jobId)
          yield* Console.error(`job ${job.id}: ${job.status}, ${job.progressLine}`)
        }
      }).pipe(
        Effect.provide(
          Insights.layer({ jobConcurrency: 2 }).pipe(
            Layer.provide(analyzerLayer(args.analyzer)),
            Layer.provideMerge(Storage.fromDb(args.db))
          )
        )
      )
    })
).pipe(
  Command.withDescription(
    "repair what validate finds; analysis and aggregation are queued as jobs " +
      "for a worker, or run here with --wait"
  )
)

/** Jobs are read per owner; a repair job belongs to its profile's owner. */
const jobOwner = (jobId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ owner: string }>`SELECT owner FROM pi_jobs WHERE id = ${jobId}`
  ).pipe(Effect.map((rows) => rows[0]?.owner ?? ""))
