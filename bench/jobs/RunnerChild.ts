/**
 * The runner process of the cross-process pickup figures: the whole
 * library with a runner (defaults) over the storage named on the command
 * line, and the no-op analyzer.
 *
 * Started by Pickup.ts as `node --import tsx RunnerChild.ts '<spec>'`,
 * the argument being a StorageSpec as JSON. Talks over stdio, one message
 * a line:
 *
 * - prints "ready" once the runner is started;
 * - prints "start <profileId> <ms>" the first time a post of the profile
 *   is analysed, `ms` being wall-clock milliseconds with sub-millisecond
 *   precision, stamped first and written synchronously;
 * - answers "ping <n>" with "pong <n> <ms>", for the clock-offset check;
 * - hands its jobs back and exits when stdin closes.
 */
import { Deferred, Effect, Layer, Logger, LogLevel } from "effect"
import { writeSync } from "node:fs"
import { createInterface } from "node:readline"
import { Insights } from "../../src/index.js"
import { type StorageSpec, storageLayer, wallClock } from "./Harness.js"
import * as NoopAnalyzer from "./NoopAnalyzer.js"

const spec = JSON.parse(process.argv[2] ?? "") as StorageSpec
const send = (line: string) => writeSync(1, `${line}\n`)

const seen = new Set<string>()
const analyzer = NoopAnalyzer.layer((post) =>
  Effect.sync(() => {
    const at = wallClock()
    if (!seen.has(post.profileId)) {
      seen.add(post.profileId)
      send(`start ${post.profileId} ${at}`)
    }
  })
)

const library = Insights.layer().pipe(
  Layer.provide(analyzer),
  Layer.provide(storageLayer(spec)),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
)

const program = Effect.gen(function* () {
  const closed = yield* Deferred.make<void>()
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => {
    const [verb, n] = line.trim().split(" ")
    if (verb === "ping") send(`pong ${n} ${wallClock()}`)
  })
  input.on("close", () => Deferred.unsafeDone(closed, Effect.void))
  yield* Effect.addFinalizer(() => Effect.sync(() => input.close()))
  send("ready")
  yield* Deferred.await(closed)
}).pipe(Effect.scoped, Effect.provide(library))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
