/**
 * What the Express, Fastify and Hono servers share beyond the contract:
 * starting the promise client from the environment, the caller's owner,
 * turning a failed call into an answer, decoding a submit body, the events
 * of a progress stream, and a graceful shutdown on SIGTERM and SIGINT.
 * Plain Node, no framework, so each server file is only its routing.
 */
import type { Server } from "node:http"
import { fileURLToPath } from "node:url"
import { Either, ParseResult, Schema } from "effect"
import {
  type ClientOptions,
  createClient,
  type InsightsClient,
  InvalidInput
} from "../../client/index.js"
import { HealthSnapshot } from "../../src/Health.js"
import * as Storage from "../cli/Storage.js"
import {
  type ErrorAnswer,
  type ErrorBody,
  type JobView,
  type ServerConfig,
  SubmitBody,
  errorAnswer,
  eventId,
  eventName,
  jobView,
  listeningLine,
  malformedBody,
  serverConfig,
  tokensFromEnv
} from "./Contract.js"

export interface Host {
  readonly config: ServerConfig
  readonly tokens: ReadonlyMap<string, string>
  readonly client: InsightsClient
  /**
   * Aborted when the server starts to shut down: every open event stream
   * listens to it and ends.
   */
  readonly shuttingDown: AbortSignal
  /** Starts the shutdown (what SIGTERM and SIGINT do). */
  readonly shutdown: () => void
}

/** The largest request body accepted: a profile export with its posts. */
export const bodyLimitBytes = 20 * 1024 * 1024

/**
 * The progress page and its files: served at / (index.html), /assets/*
 * and beside them, whatever the working directory.
 */
export const publicDirectory = fileURLToPath(new URL("public/", import.meta.url))

/** The Content-Type of GET /metrics: Prometheus' text format. */
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// ---------------------------------------------------------------------------
// Starting

/** Client options from the server's configuration. */
export const clientOptions = (config: ServerConfig): ClientOptions => ({
  storage: config.db._tag === "Postgres"
    ? { postgres: config.db.url }
    : { sqlite: config.db.filename },
  analyzer: config.analyzer
})

/**
 * Reads the configuration, opens the client (migrating the database and
 * starting its runner) and returns what the routes need. A bad setting
 * exits 2 with a line on stderr naming the variable; a database that
 * cannot be opened exits 1 with a line saying why.
 */
export const startHost = async (env: NodeJS.ProcessEnv = process.env): Promise<Host> => {
  let config: ServerConfig
  try {
    config = serverConfig(env)
  } catch (error) {
    log(`cannot start: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(2)
  }
  let client: InsightsClient
  try {
    client = await createClient(clientOptions(config))
  } catch (error) {
    if (error instanceof InvalidInput) {
      log(`cannot start: ${error.message}`)
      process.exit(2)
    }
    log(`cannot open ${Storage.describe(config.db)}: ${Storage.reasonOf(error)}`)
    process.exit(1)
  }
  const stopping = new AbortController()
  return {
    config,
    tokens: tokensFromEnv(env),
    client,
    shuttingDown: stopping.signal,
    shutdown: () => stopping.abort()
  }
}

/**
 * Starts listening (`listen` resolves with the port it got), prints the
 * listening line on stdout and stops gracefully on SIGTERM and SIGINT (see
 * exitOnSignals). A server that cannot listen closes the client and exits 1.
 */
export const serve = async (
  host: Host,
  listen: () => Promise<number>,
  closeServer: () => Promise<void>
): Promise<void> => {
  let port: number
  try {
    port = await listen()
  } catch (error) {
    log(`cannot listen on ${host.config.host}:${host.config.port}:`, error)
    await host.client.close()
    process.exit(1)
  }
  process.stdout.write(`${listeningLine(host.config.host, port)}\n`)
  exitOnSignals(host, closeServer)
}

/** Writes a log line to stderr; stdout carries only the listening line. */
export const log = (message: string, error?: unknown): void => {
  const detail = error === undefined
    ? ""
    : ` ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
  process.stderr.write(`${new Date().toISOString()} ${message}${detail}\n`)
}

// ---------------------------------------------------------------------------
// Requests

/** /api routes anyone may call; every other /api route needs a token. */
export const isPublicPath = (path: string): boolean =>
  path === "/api/health" || path === "/api/samples" || path.startsWith("/api/samples/")

/**
 * Whether a request to this path must carry a known bearer token. The
 * path is read as loosely as any router might match it (percent-decoded,
 * any case, repeated slashes as one), so that no spelling of an /api route
 * reaches its handler without an owner.
 */
export const needsOwner = (path: string): boolean => {
  let decoded = path
  try {
    decoded = decodeURIComponent(path)
  } catch {
    // Not valid percent-encoding: judged as written.
  }
  const loose = decoded.toLowerCase().replace(/\/{2,}/g, "/")
  return (loose === "/api" || loose.startsWith("/api/")) && !isPublicPath(loose)
}

/**
 * The answer for an error a route failed with. Errors of the caller's
 * making are answered as the contract says; anything else is logged to
 * stderr with the request it broke, and answered as a bare 500.
 */
export const answerFor = (error: unknown, request: string): ErrorAnswer => {
  const answer = errorAnswer(error)
  if (answer.status === 500) log(`${request} failed:`, error)
  return answer
}

/**
 * The answer for a request whose client went away before its body was
 * read: nobody reads it, and it is not logged, as that is normal.
 */
export const requestCutShort: ErrorAnswer = malformedBody(
  "the request ended before its body was read"
)

/** A 404 for a job, profile or insights the caller does not have. */
export const notFound: ErrorAnswer = errorAnswer({ _tag: "NotFound" })

/** A 404 for a path no route serves. */
export const noRoute = (method: string, path: string): ErrorAnswer => ({
  status: 404,
  body: { error: "not_found", message: `no route for ${method} ${path}` }
})

/** A 404 for GET /api/samples/:name with a name no sample has. */
export const noSample = (name: string): ErrorAnswer => ({
  status: 404,
  body: { error: "not_found", message: `no sample named ${JSON.stringify(name)}` }
})

/** A 413 for a body over bodyLimitBytes. */
export const bodyTooLarge: { readonly status: 413; readonly body: ErrorBody } = {
  status: 413,
  body: {
    error: "invalid_input",
    message: `body: larger than the ${bodyLimitBytes / 1024 / 1024} MB limit`,
    field: "",
    record: "body"
  }
}

/**
 * A request body read as text, parsed as JSON: undefined when there is no
 * body, a 400 when it is not JSON.
 */
export const parseJsonBody = (text: string): Either.Either<unknown, ErrorAnswer> =>
  text.trim() === ""
    ? Either.right(undefined)
    : Either.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => malformedBody(error instanceof Error ? error.message : String(error))
    })

/**
 * The options of POST /api/profiles/:profileId/jobs. No body is the same
 * as `{}`; a body that does not fit SubmitBody is a 400 naming the field.
 */
export const decodeSubmitBody = (
  body: unknown
): Either.Either<SubmitBody, ErrorAnswer> =>
  Schema.decodeUnknownEither(SubmitBody)(body ?? {}).pipe(
    Either.mapLeft((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      return errorAnswer(
        new InvalidInput({
          source: "body",
          record: "",
          field: issue?.path.join(".") ?? "",
          detail: issue?.message ?? error.message
        })
      )
    })
  )

/** GET /api/health: the snapshot encoded by its Schema (dates as ISO strings). */
export const healthView: (snapshot: HealthSnapshot) => typeof HealthSnapshot.Encoded =
  Schema.encodeSync(HealthSnapshot)

// ---------------------------------------------------------------------------
// Progress events

export interface JobEvent {
  readonly event: "progress" | "end"
  readonly id: string
  readonly data: JobView
}

/**
 * The events of GET /api/jobs/:jobId/events: the job's current state,
 * then each change, ending after the `end` event. A first event whose id
 * equals `lastEventId` (the client's Last-Event-ID) is skipped: the client
 * has it already. Aborting `signal` (the client went away, or the server is
 * shutting down) ends the events and stops reading the job; the job itself
 * goes on.
 */
export async function* jobEvents(
  client: InsightsClient,
  owner: string,
  jobId: string,
  options: { readonly lastEventId?: string | undefined; readonly signal: AbortSignal }
): AsyncGenerator<JobEvent> {
  let first = true
  for await (const job of client.watch(owner, jobId, { signal: options.signal })) {
    const event: JobEvent = { event: eventName(job), id: eventId(job), data: jobView(job) }
    const seen = first && event.id === options.lastEventId
    first = false
    if (!seen) yield event
    if (event.event === "end") return
  }
}

/**
 * Runs `send` over the job's events until they end, the client goes away
 * (`disconnected`) or the server shuts down. A failure after the client
 * went away is normal and not logged; any other is logged to stderr and
 * ends the stream.
 */
export const streamJobEvents = async (
  host: Host,
  owner: string,
  jobId: string,
  lastEventId: string | undefined,
  disconnected: AbortSignal,
  send: (event: JobEvent) => Promise<void> | void
): Promise<void> => {
  const signal = AbortSignal.any([disconnected, host.shuttingDown])
  try {
    for await (const event of jobEvents(host.client, owner, jobId, { lastEventId, signal })) {
      if (signal.aborted) return
      await send(event)
    }
  } catch (error) {
    if (!signal.aborted) log(`events of job ${jobId} failed:`, error)
  }
}

// ---------------------------------------------------------------------------
// Shutdown

/** How long a graceful shutdown may take before the process exits anyway. */
export const shutdownTimeoutMillis = 10_000

/** How long responses still being sent get once shutdown starts. */
export const drainMillis = 3_000

/**
 * Closes keep-alive connections as they fall idle, until `stop` is called,
 * and every connection after `drainMillis`. Node's server.close() closes
 * only the connections idle at that moment: one whose event stream the
 * shutdown ended goes idle a moment later and, left alone, would hold the
 * server open until its keep-alive timeout while the runner goes on.
 */
export const closeConnectionsAsTheyIdle = (server: Server): (() => void) => {
  server.closeIdleConnections()
  const idle = setInterval(() => server.closeIdleConnections(), 20)
  const drain = setTimeout(() => server.closeAllConnections(), drainMillis)
  idle.unref()
  drain.unref()
  return () => {
    clearInterval(idle)
    clearTimeout(drain)
  }
}

/**
 * server.close() that does not wait on idle keep-alive connections (see
 * closeConnectionsAsTheyIdle).
 */
export const closeServer = (server: Server): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    server.close((error) => {
      stop()
      if (error === undefined) resolve()
      else reject(error)
    })
    const stop = closeConnectionsAsTheyIdle(server)
  })

/**
 * On the first SIGTERM or SIGINT: stops accepting connections
 * (`closeServer`), ends open event streams, waits for the client to close
 * (running jobs are handed back for the next runner) and exits 0. If that
 * takes longer than shutdownTimeoutMillis the process exits 1; a second
 * signal exits at once.
 */
export const exitOnSignals = (host: Host, closeServer: () => Promise<void>): void => {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`)
      process.exit(signal === "SIGINT" ? 130 : 143)
    }
    stopping = true
    log(`${signal}: shutting down`)
    setTimeout(() => {
      log(`shutdown took longer than ${shutdownTimeoutMillis} ms: exiting`)
      process.exit(1)
    }, shutdownTimeoutMillis).unref()
    host.shutdown()
    closeServer()
      .catch((error: unknown) => log("closing the server failed:", error))
      .then(() => host.client.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          log("closing the client failed:", error)
          process.exit(1)
        }
      )
  }
  process.on("SIGTERM", onSignal)
  process.on("SIGINT", onSignal)
}
