/**
 * The example server on @effect/platform's HttpApi and Node's HTTP server,
 * using the library's Effect API directly: the routes, JSON and statuses
 * of examples/server-kit/Contract.ts, like the Express, Fastify and Hono
 * servers.
 *
 *   PORT=0 PROFILE_INSIGHTS_DB=/tmp/insights.db node --import tsx examples/effect-http/server.ts
 *
 * Settings: PORT (0 picks a free port; default 3000), HOST (default
 * 127.0.0.1), PROFILE_INSIGHTS_DB (a SQLite file, a file:// URL or a
 * postgres:// URL, read as the CLI reads --db),
 * PROFILE_INSIGHTS_ANALYZER (embedded or openai, configured by the
 * PROFILE_INSIGHTS_OPENAI_* variables), PROFILE_INSIGHTS_TOKENS
 * ("token:owner,..."; default demo-alice:alice,demo-bob:bob).
 *
 * Once it listens it prints `listening on http://HOST:PORT` on stdout;
 * logs go to stderr. SIGTERM or SIGINT ends open event streams, stops
 * the server, hands running jobs back for the next runner and exits 0; a
 * shutdown that takes longer than 10 seconds exits 1, and a second signal
 * ends the process at once. A bad setting exits 2 and a database that
 * cannot be opened exits 1, each with one line on stderr.
 */
import { HttpApiBuilder, HttpMiddleware, HttpServer } from "@effect/platform"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Data, Deferred, Effect, Exit, Layer, Logger, Option } from "effect"
import { createServer, type Server } from "node:http"
import * as Health from "../../src/Health.js"
import * as Insights from "../../src/Insights.js"
import * as Telemetry from "../../src/Telemetry.js"
import { analyzerLayer } from "../cli/AnalyzerOption.js"
import * as Storage from "../cli/Storage.js"
import {
  listeningLine,
  type ServerConfig,
  serverConfig,
  tokensFromEnv
} from "../server-kit/Contract.js"
import {
  closeConnectionsAsTheyIdle,
  shutdownTimeoutMillis
} from "../server-kit/Node.js"
import { Api } from "./Api.js"
import * as Events from "./Events.js"
import { AuthorizationLive, JobsLive, ProfilesLive, PublicLive } from "./Handlers.js"
import { RequestErrorsLive } from "./RequestErrors.js"
import { StaticLive } from "./Static.js"

/** A setting in the environment is malformed; the message names it. */
class StartupError extends Data.TaggedError("StartupError")<{ readonly message: string }> {}

/** The library: API, runner, repair sweep, health and metrics, on one pool. */
const libraryLayer = (config: ServerConfig) =>
  Layer.mergeAll(
    Insights.layer(),
    Health.layer(),
    Telemetry.layerPrometheus()
  ).pipe(
    Layer.provide(analyzerLayer(config.analyzer)),
    Layer.provide(Storage.layer(config.db))
  )

/**
 * Prints the listening line once the routes are served. Its finalizer is
 * the first step of the shutdown: it ends open event streams, closes
 * connections as they fall idle and gives the responses still being sent
 * `drainMillis` (examples/server-kit/Node.ts) before their connections close,
 * so closing the server cannot wait on a client.
 */
const announce = (server: Server, host: string) =>
  Layer.scopedDiscard(Effect.gen(function* () {
    const shuttingDown = yield* Events.ShuttingDown
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Effect.logInfo("shutting down")
        yield* Deferred.succeed(shuttingDown, undefined)
        closeConnectionsAsTheyIdle(server)
      })
    )
    const { address } = yield* HttpServer.HttpServer
    const port = address._tag === "TcpAddress" ? address.port : 0
    yield* Console.log(listeningLine(host, port))
  }))

const appLayer = (config: ServerConfig, tokens: ReadonlyMap<string, string>) => {
  const server = createServer()
  const api = HttpApiBuilder.api(Api).pipe(
    Layer.provide([ProfilesLive, JobsLive, PublicLive]),
    Layer.provide(AuthorizationLive(tokens))
  )
  return announce(server, config.host).pipe(
    Layer.provide(
      HttpApiBuilder.serve(HttpMiddleware.logger).pipe(
        Layer.provide(api),
        Layer.provide(StaticLive),
        Layer.provide(RequestErrorsLive(tokens))
      )
    ),
    Layer.provide(NodeHttpServer.layer(() => server, { port: config.port, host: config.host })),
    Layer.provide(libraryLayer(config)),
    Layer.provide(Events.ShuttingDown.layer)
  )
}

const main = Effect.gen(function* () {
  const config = yield* Effect.try({
    try: () => serverConfig(process.env),
    catch: (error) => new StartupError({ message: (error as Error).message })
  })
  return yield* Layer.launch(appLayer(config, tokensFromEnv(process.env)))
})

/**
 * A deadline for the shutdown: the first SIGTERM or SIGINT starts it (the
 * runtime interrupts the server at the same signal); if the process is
 * still alive when it passes, it exits 1. A second signal finds no
 * listener left and ends the process at once.
 */
const boundShutdown = () => {
  const onSignal = () => {
    process.off("SIGTERM", onSignal)
    process.off("SIGINT", onSignal)
    setTimeout(() => {
      process.stderr.write(`shutdown took longer than ${shutdownTimeoutMillis} ms: exiting\n`)
      process.exit(1)
    }, shutdownTimeoutMillis).unref()
  }
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
}

/** Why the server could not start, in one line; none for other causes. */
const startupFailure = (cause: Cause.Cause<unknown>): Option.Option<string> =>
  Option.filterMap(Cause.failureOption(cause), (error) =>
    error instanceof StartupError || error instanceof Storage.CannotOpenDatabase
      ? Option.some(error.message)
      : Option.none()
  )

boundShutdown()
main.pipe(
  Effect.tapErrorCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    return Option.match(startupFailure(cause), {
      onSome: (reason) => Effect.logError(`the server could not start: ${reason}`),
      onNone: () => Effect.logError("the server stopped", cause)
    })
  }),
  // Logs go to stderr: stdout holds only the listening line.
  Effect.provide(
    Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))
  ),
  // SIGTERM and SIGINT interrupt the server: exit 0 once it has shut down;
  // 2 for a bad setting; 1 if it could not start otherwise, or failed.
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)
          ? 0
          : Option.exists(Cause.failureOption(exit.cause), (e) => e instanceof StartupError)
          ? 2
          : 1
      )
  })
)
