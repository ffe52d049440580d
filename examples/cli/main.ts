#!/usr/bin/env node
/**
 * The profile-insights command line.
 *
 *   profile-insights analyze FILE [--db PATH|URL] [--json] [--owner ID]
 *   profile-insights worker [--db PATH|URL] [--concurrency N] ...
 *
 * analyze imports a profile export, runs its analysis job to the end and
 * prints the insights. worker runs jobs until SIGTERM or SIGINT, then
 * hands unfinished jobs back. --db is read by Storage.parse. Exit code 0
 * on success, 2 on bad input with a one-line reason, 130 when
 * interrupted, 1 on any other failure (one line too: a database that
 * cannot be opened says `cannot open <db>: <reason>`).
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import {
  Cause,
  ConfigError,
  Console,
  Data,
  Duration,
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option
} from "effect"
import { analyzer, analyzerLayer } from "./AnalyzerOption.js"
import { importProfileFile } from "../../src/import/ProfileImporter.js"
import { Insights, InvalidInput, ProfileStore } from "../../src/index.js"
import * as Storage from "./Storage.js"
import { repair, validate } from "./ConsistencyCommands.js"
import { health } from "./HealthCommand.js"
import * as Progress from "./Progress.js"
import * as Summary from "./Summary.js"

const file = Args.text({ name: "FILE" }).pipe(
  Args.withDescription(
    "a profile export: the library's JSON, Instagram, Apify, X/Twitter or Reddit"
  )
)
const db = Options.text("db").pipe(
  Options.withDescription(
    "a SQLite file (created if missing), a file:// URL or a postgres:// URL"
  ),
  Options.withDefault(".profile-insights/profile-insights.db")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print the insights as JSON instead of a summary")
)
const owner = Options.text("owner").pipe(
  Options.withDescription("owner id the profile and job are recorded under"),
  Options.withDefault("cli")
)

const analyze = Command.make("analyze", { file, db, json, owner, analyzer }, (args) =>
  Effect.gen(function* () {
    const api = yield* Insights.Insights
    const profiles = yield* ProfileStore.ProfileStore
    const imported = yield* importProfileFile(args.file)
    const saved = yield* api.importProfile(args.owner, imported, args.file)
    const job = yield* api.submit(args.owner, saved.profile.id)
    yield* Progress.show(api.watch(args.owner, job.id, { interval: "100 millis" }))
    const finished = yield* api.status(args.owner, job.id)
    if (finished.status !== "succeeded") {
      return yield* Effect.fail(
        new JobDidNotSucceed({ status: finished.status, lastError: finished.lastError })
      )
    }
    const insights = yield* api.insights(args.owner, saved.profile.id)
    const profile = yield* profiles.get(args.owner, saved.profile.id)
    yield* args.json
      ? Console.log(JSON.stringify(Summary.toJson(profile, insights), null, 2))
      : Console.log(Summary.render(profile, insights))
  }).pipe(
    // Interrupted (SIGINT, SIGTERM): the job was handed back, no insights
    // were printed, and the exit code says so.
    Effect.onInterrupt(() => Effect.sync(() => { process.exitCode = 130 })),
    Effect.provide(
      Insights.layer({ jobConcurrency: 1 }).pipe(
        Layer.provide(analyzerLayer(args.analyzer)),
        Layer.provide(Storage.fromDb(args.db))
      )
    )
  )
).pipe(Command.withDescription("import a profile export, analyse it and print its insights"))

const worker = Command.make(
  "worker",
  {
    db,
    analyzer,
    concurrency: Options.integer("concurrency").pipe(
      Options.withDescription("jobs worked on at once"),
      Options.withDefault(2)
    ),
    postConcurrency: Options.integer("post-concurrency").pipe(
      Options.withDescription("posts of one job analysed at once"),
      Options.withDefault(4)
    ),
    lease: Options.integer("lease").pipe(
      Options.withDescription("seconds a claim holds without a heartbeat"),
      Options.withDefault(15)
    ),
    poll: Options.integer("poll").pipe(
      Options.withDescription("milliseconds between looks for due jobs when idle"),
      Options.withDefault(1000)
    ),
    sweep: Options.integer("sweep").pipe(
      Options.withDescription(
        "seconds between repair sweeps beside the runner (0 turns them off)"
      ),
      Options.withDefault(60)
    )
  },
  (args) =>
    checkPositive({
      concurrency: args.concurrency,
      "post-concurrency": args.postConcurrency,
      lease: args.lease,
      poll: args.poll
    }).pipe(
      Effect.zipRight(
        args.sweep >= 0
          ? Effect.void
          : Effect.fail(
            new InvalidInput({
              source: "command line",
              record: "",
              field: "--sweep",
              detail: `expected 0 (off) or a whole number of seconds, got ${args.sweep}`
            })
          )
      ),
      Effect.zipRight(Layer.launch(
      // The runner with the scheduled repair sweep beside it, as in any
      // host: a dead lease or a job stuck half done is put right here too.
      Insights.layer({
        jobConcurrency: args.concurrency,
        postConcurrency: args.postConcurrency,
        leaseDuration: Duration.seconds(args.lease),
        pollInterval: Duration.millis(args.poll),
        repair: args.sweep === 0 ? false : { interval: Duration.seconds(args.sweep) }
      }).pipe(
        Layer.provide(analyzerLayer(args.analyzer)),
        Layer.provide(Storage.fromDb(args.db))
      )
    ).pipe(Logger.withMinimumLogLevel(LogLevel.Info))))
).pipe(Command.withDescription("run analysis jobs until stopped (SIGTERM or SIGINT)"))

/** Every option named must be a whole number of at least 1. */
const checkPositive = (options: Record<string, number>) =>
  Effect.forEach(Object.entries(options), ([name, value]) =>
    value >= 1
      ? Effect.void
      : Effect.fail(
          new InvalidInput({
            source: "command line",
            record: "",
            field: `--${name}`,
            detail: `must be at least 1, got ${value}`
          })
        )
  )

class JobDidNotSucceed extends Data.TaggedError("JobDidNotSucceed")<{
  readonly status: string
  readonly lastError: string | null
}> {
  override get message(): string {
    const reason = this.lastError === null ? "" : `: ${this.lastError}`
    return `the analysis job ended ${this.status}${reason}`
  }
}

const cli = Command.run(
  Command.make("profile-insights").pipe(
    Command.withSubcommands([analyze, worker, health, validate, repair])
  ),
  { name: "profile-insights", version: "0.1.0" }
)

/**
 * One line on stderr and an exit code, for errors a user can act on: 2
 * for bad input (a file, an option, a PROFILE_INSIGHTS_* variable), else 1.
 */
const reportFailure = (error: unknown) =>
  Effect.sync(() => {
    const tag = typeof error === "object" && error !== null && "_tag" in error ? error._tag : null
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`profile-insights: ${message}\n`)
    process.exitCode =
      tag === "InvalidInput" || tag === "UnknownFormat" || ConfigError.isConfigError(error)
        ? 2
        : 1
  })

/**
 * How a run that did not succeed ends: interrupted, it keeps its cause
 * (exit 130); a bad command line exits 2 after the message @effect/cli
 * printed; a failure prints its one line; a defect prints its message,
 * not a stack, and exits 1.
 */
const reportCause = (cause: Cause.Cause<unknown>) => {
  if (Cause.isInterrupted(cause)) return Effect.failCause(cause)
  return Option.match(Cause.failureOption(cause), {
    onSome: (error) =>
      ValidationError.isValidationError(error)
        ? Effect.sync(() => { process.exitCode = 2 })
        : reportFailure(error),
    onNone: () => reportFailure(`unexpected error: ${Storage.reasonOf(Cause.squash(cause))}`)
  })
}

cli(process.argv).pipe(
  Effect.catchAllCause(reportCause),
  Effect.provide(NodeContext.layer),
  Effect.provide(
    Layer.merge(
      Logger.minimumLogLevel(LogLevel.Warning),
      // Logs go to stderr: stdout holds only the insights.
      Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
    )
  ),
  NodeRuntime.runMain({
    disablePrettyLogger: true,
    // An interrupted run (SIGINT, SIGTERM) exits 130, whatever the default
    // teardown would say; otherwise the code a handler set, or 1 on failure.
    teardown: (exit, onExit) =>
      onExit(
        Exit.isInterrupted(exit)
          ? 130
          : typeof process.exitCode === "number" && process.exitCode !== 0
          ? process.exitCode
          : Exit.isFailure(exit) ? 1 : 0
      )
  })
)
