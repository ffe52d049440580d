/**
 * A worker process for the fault suites: the whole library with a runner,
 * over the storage named in its configuration, with an analyzer that
 * sleeps a fixed time per post.
 *
 * Run as `node --import tsx test/support/WorkerMain.ts '<json>'`, or as the
 * bundle WorkerProcess.spawn makes of it, the JSON being a WorkerConfig.
 *
 * Every analyzer call appends "<pid> <postId> <ms>" (when it started) to
 * the calls file before it starts, synchronously, so a count survives
 * SIGKILL. Each result carries "pid:<pid>" in its keywords, so a stored
 * analysis tells which process made it. A store write that fails prints
 * "span <name> failed <tag>" (for example "span JobStore.checkpoint failed
 * LeaseLost"), seen through a tracer that wraps the default one.
 *
 * Prints "ready pid=<pid> runner=<id>" once the layer is built. Reads
 * commands from stdin, one a line: "submit <owner> <profileId>" answers
 * "submitted <jobId> started=<ms> ended=<ms>" or "submit-failed <message>".
 * SIGTERM interrupts the program, so the runner hands its jobs back before
 * the process exits 0; so does the end of stdin, when the test process is
 * gone.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import {
  Cause,
  Console,
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option,
  Queue,
  Tracer
} from "effect"
import { appendFileSync } from "node:fs"
import { createInterface } from "node:readline"
import { PgStorage } from "../../adapters/postgres/index.js"
import { SqliteStorage } from "../../adapters/sqlite/index.js"
import { AnalysisResult, Analyzer, Insights } from "../../src/index.js"
import { result } from "./ScriptedAnalyzer.js"
import type { WorkerConfig } from "./WorkerProcess.js"

const config = JSON.parse(process.argv[2] ?? "") as WorkerConfig
const pid = process.pid

const storage = config.storage.kind === "sqlite"
  ? SqliteStorage.layer({ filename: config.storage.filename })
  : PgStorage.layer({
    url: config.storage.url,
    maxConnections: config.storage.maxConnections
  })

const analyzer = Layer.succeed(
  Analyzer,
  Analyzer.of({
    id: "fault",
    version: config.analyzer.version ?? "fault-1",
    analyze: (post) =>
      Effect.gen(function* () {
        appendFileSync(config.analyzer.callsFile, `${pid} ${post.id} ${Date.now()}\n`)
        yield* Effect.sleep(config.analyzer.delayMillis)
        return new AnalysisResult({
          ...result(post.caption),
          keywords: [`pid:${pid}`]
        })
      })
  })
)

/** The default tracer, printing each store span that ends in a failure. */
const failedStoreWrites = Layer.unwrapEffect(
  Effect.map(Effect.tracer, (base) =>
    Layer.setTracer(
      Tracer.make({
        context: (f, fiber) => base.context(f, fiber),
        span: (name, parent, context, links, startTime, kind, options) => {
          const span = base.span(name, parent, context, links, startTime, kind, options)
          if (!name.startsWith("JobStore.")) return span
          const end = span.end.bind(span)
          return Object.assign(span, {
            end: (endTime: bigint, exit: Exit.Exit<unknown, unknown>) => {
              if (Exit.isFailure(exit)) {
                const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
                const tag = (error as { _tag?: string } | undefined)?._tag ?? "defect"
                process.stdout.write(`span ${name} failed ${tag}\n`)
              }
              end(endTime, exit)
            }
          })
        }
      })
    )
  )
)

const runner = config.runner
const library = Insights.layer({
  runnerId: `worker-${pid}`,
  leaseDuration: runner.leaseMillis,
  heartbeatInterval: runner.heartbeatMillis,
  pollInterval: runner.pollMillis,
  jobConcurrency: runner.jobConcurrency,
  postConcurrency: runner.postConcurrency
}).pipe(
  Layer.provide(analyzer),
  Layer.provide(storage),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Info)),
  Layer.provide(failedStoreWrites)
)

const command = (api: Insights.InsightsShape, line: string) => {
  const [verb, owner = "", profileId = ""] = line.trim().split(/\s+/)
  if (verb !== "submit") return Console.log(`unknown-command ${line}`)
  const started = Date.now()
  return api.submit(owner, profileId).pipe(
    Effect.flatMap((job) =>
      Console.log(`submitted ${job.id} started=${started} ended=${Date.now()}`)
    ),
    Effect.catchAll((e) => Console.log(`submit-failed ${e.message}`))
  )
}

const program = Effect.gen(function* () {
  const api = yield* Insights.Insights
  const lines = yield* Queue.unbounded<string>()
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => Queue.unsafeOffer(lines, line))
  // The test process is gone (its end of stdin closed): shut down as on
  // SIGTERM rather than outlive it.
  input.on("close", () => process.kill(process.pid, "SIGTERM"))
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      input.removeAllListeners("close")
      input.close()
    })
  )
  yield* Console.log(`ready pid=${pid} runner=worker-${pid}`)
  return yield* Queue.take(lines).pipe(
    Effect.flatMap((line) => command(api, line)),
    Effect.forever
  )
}).pipe(Effect.scoped, Effect.provide(library))

NodeRuntime.runMain(program)
