/**
 * What every example server shares, whatever its framework: the routes,
 * who the caller is, the JSON a job, an import and insights are sent as,
 * the JSON body of an error and its status, and the events of a progress
 * stream. Plain functions, no framework and no runtime, so the Express,
 * Fastify, Hono and Effect HTTP servers answer byte for byte alike.
 *
 * Routes (every /api route but health needs `Authorization: Bearer <token>`):
 *
 *   GET  /                                  the progress page
 *   GET  /assets/*                          the page's scripts and styles
 *   GET  /api/samples                       sample profiles: [{ name, title, posts }]
 *   GET  /api/samples/:name                 a sample profile's content
 *   POST /api/profiles                      body: a profile export   -> 201 ImportView
 *   POST /api/profiles/:profileId/jobs      body: {} or SubmitBody   -> 202 JobView
 *   GET  /api/profiles/:profileId/jobs/latest                        -> 200 JobView | 404
 *   GET  /api/profiles/:profileId/insights                           -> 200 InsightsView | 404
 *   GET  /api/jobs/:jobId                                            -> 200 JobView | 404
 *   GET  /api/jobs/:jobId/events            Server-Sent Events (see below)
 *   POST /api/jobs/:jobId/cancel                                     -> 200 JobView | 404
 *   GET  /api/health                        the health snapshot (no token needed)
 *   GET  /metrics                           Prometheus text (no token needed)
 *
 * Events: each is `event: progress` (or `end` for the terminal state,
 * after which the server closes the stream), `id: <eventId(job)>` and
 * `data: <JobView as JSON>`, with `retry: 2000`. The first event is always
 * the job's current state; a client reconnecting with Last-Event-ID skips
 * a first event whose id equals it.
 */
import { Either, Schema } from "effect"
import * as Storage from "../cli/Storage.js"
import { Job, type JobStatus, ProfileInsights } from "../../src/Domain.js"
import type { SaveResult } from "../../src/ProfileStore.js"

// ---------------------------------------------------------------------------
// Who is calling

/**
 * Bearer tokens and the owner each stands for, from PROFILE_INSIGHTS_TOKENS
 * ("token:owner,token:owner"), else two demo users. A real host maps its
 * own session or JWT to its user id here.
 */
export const tokensFromEnv = (
  env: NodeJS.ProcessEnv = process.env
): ReadonlyMap<string, string> => {
  const spec = env.PROFILE_INSIGHTS_TOKENS ?? "demo-alice:alice,demo-bob:bob"
  const tokens = new Map<string, string>()
  for (const pair of spec.split(",")) {
    const at = pair.indexOf(":")
    if (at <= 0 || at === pair.length - 1) continue
    tokens.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
  }
  return tokens
}

/** The owner an Authorization header stands for, or undefined. */
export const ownerOf = (
  tokens: ReadonlyMap<string, string>,
  authorization: string | null | undefined
): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")
  return match === null ? undefined : tokens.get(match[1]!)
}

// ---------------------------------------------------------------------------
// What is sent

export interface JobView {
  readonly id: string
  readonly kind: string
  readonly profileId: string
  readonly status: JobStatus
  readonly done: number
  readonly failed: number
  readonly total: number
  readonly processed: number
  readonly percent: number
  readonly attempt: number
  readonly maxAttempts: number
  readonly lastError: string | null
  readonly createdAt: string
  readonly updatedAt: string
  readonly finishedAt: string | null
}

export const jobView = (job: Job): JobView => ({
  id: job.id,
  kind: job.kind,
  profileId: job.profileId,
  status: job.status,
  done: job.done,
  failed: job.failed,
  total: job.total,
  processed: job.processed,
  percent: job.percent,
  attempt: job.attempt,
  maxAttempts: job.maxAttempts,
  lastError: job.lastError,
  createdAt: job.createdAt.toISOString(),
  updatedAt: job.updatedAt.toISOString(),
  finishedAt: job.finishedAt === null ? null : job.finishedAt.toISOString()
})

export interface ImportView {
  readonly profileId: string
  readonly platform: string
  readonly handle: string
  readonly posts: { readonly added: number; readonly changed: number; readonly removed: number }
}

export const importView = (saved: SaveResult): ImportView => ({
  profileId: saved.profile.id,
  platform: saved.profile.platform,
  handle: saved.profile.handle,
  posts: { added: saved.added, changed: saved.changed, removed: saved.removed }
})

/** The insights as JSON: ProfileInsights encoded by its Schema (dates as ISO strings). */
export type InsightsView = typeof ProfileInsights.Encoded

export const insightsView: (insights: ProfileInsights) => InsightsView = Schema.encodeSync(
  ProfileInsights
)

/** Body of POST /api/profiles/:profileId/jobs; every field optional. */
export const SubmitBody = Schema.Struct({
  priority: Schema.optional(Schema.Int.pipe(Schema.between(-1_000_000, 1_000_000))),
  maxAttempts: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000)))
})
export type SubmitBody = typeof SubmitBody.Type

// ---------------------------------------------------------------------------
// Errors

export interface ErrorBody {
  /** "unauthorized", "invalid_input", "unknown_format", "not_found" or "internal". */
  readonly error: string
  /** One line a person can read. */
  readonly message: string
  /** For invalid_input: where the input was wrong. */
  readonly field?: string
  readonly record?: string
}

export interface ErrorAnswer {
  readonly status: 400 | 401 | 404 | 500
  readonly body: ErrorBody
}

export const unauthorized: ErrorAnswer = {
  status: 401,
  body: { error: "unauthorized", message: "missing or unknown bearer token" }
}

/**
 * The answer for an error a library call failed with, by its tag. Any
 * other error is a 500 whose message says nothing of the internals.
 */
export const errorAnswer = (error: unknown): ErrorAnswer => {
  const tagged = error as { _tag?: unknown; message?: unknown; field?: unknown; record?: unknown }
  switch (tagged?._tag) {
    case "InvalidInput":
      return {
        status: 400,
        body: {
          error: "invalid_input",
          message: String(tagged.message),
          field: String(tagged.field),
          record: String(tagged.record)
        }
      }
    case "UnknownFormat":
      return { status: 400, body: { error: "unknown_format", message: String(tagged.message) } }
    case "NotFound":
      return { status: 404, body: { error: "not_found", message: "not found" } }
    default:
      return { status: 500, body: { error: "internal", message: "internal error" } }
  }
}

/** A 400 for a request body that is not JSON at all. */
export const malformedBody = (detail: string): ErrorAnswer => ({
  status: 400,
  body: { error: "invalid_input", message: `body: ${detail}`, field: "", record: "body" }
})

// ---------------------------------------------------------------------------
// Progress events

export const eventRetryMillis = 2000

/** The id of the event carrying this state of the job. */
export const eventId = (job: Job): string => `${job.status}:${job.done}:${job.failed}:${job.total}`

/** `progress` while the job runs, `end` for its terminal state. */
export const eventName = (job: Job): "progress" | "end" =>
  job.status === "succeeded" || job.status === "failed" || job.status === "cancelled"
    ? "end"
    : "progress"

// ---------------------------------------------------------------------------
// Configuration

export interface ServerConfig {
  /** PORT; 0 picks a free one. Default 3000. */
  readonly port: number
  /** HOST. Default 127.0.0.1. */
  readonly host: string
  /**
   * PROFILE_INSIGHTS_DB: a SQLite file path, a file:// URL or a postgres://
   * URL, read as the CLI reads --db. Default .profile-insights/server.db.
   */
  readonly db: Storage.Database
  /** PROFILE_INSIGHTS_ANALYZER: embedded (default) or openai. */
  readonly analyzer: "embedded" | "openai"
}

/**
 * The settings from the environment; a malformed one throws an Error whose
 * message starts with the variable's name.
 */
export const serverConfig = (env: NodeJS.ProcessEnv = process.env): ServerConfig => {
  const port = Number(env.PORT ?? "3000")
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT: expected a port number, got ${JSON.stringify(env.PORT)}`)
  }
  const analyzer = env.PROFILE_INSIGHTS_ANALYZER ?? "embedded"
  if (analyzer !== "embedded" && analyzer !== "openai") {
    throw new Error(
      `PROFILE_INSIGHTS_ANALYZER: expected embedded or openai, got ${JSON.stringify(analyzer)}`
    )
  }
  const db = Storage.parse(env.PROFILE_INSIGHTS_DB ?? ".profile-insights/server.db")
  if (Either.isLeft(db)) throw new Error(`PROFILE_INSIGHTS_DB: ${db.left}`)
  return { port, host: env.HOST ?? "127.0.0.1", db: db.right, analyzer }
}

/**
 * The line a server prints on stdout once it listens; tests and scripts
 * read the port from it.
 */
export const listeningLine = (host: string, port: number): string =>
  `listening on http://${host}:${port}`

export { Job }
