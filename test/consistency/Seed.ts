/**
 * Stored states for the consistency suites, written the way a crash or an
 * old, buggy version would have left them: profiles and posts through the
 * ProfileStore (the host's path), everything else with raw SQL.
 *
 * Layers: `hostLayer` is the library without a runner plus the Validator
 * and Repairer; `runnerLayer` is the whole library with a runner. The
 * suites build them one after the other over the same database, so a
 * runner never sees a state before the test has validated it.
 */
import { SqlClient } from "@effect/sql"
import { Clock, type Duration, Effect, Layer, Logger, LogLevel, Schema, TestClock } from "effect"
import {
  AnalysisResult,
  type Analyzer,
  Insights,
  type JobKind,
  type JobStatus,
  type Post,
  type Profile,
  ProfileImport,
  ProfileInsights,
  ProfileStore
} from "../../src/index.js"
import { aggregate } from "../../src/Aggregate.js"
import * as Repairer from "../../src/Repairer.js"
import * as Validator from "../../src/Validator.js"
import { libraryLayer, ownProfile, twelveCaptions } from "../support/Fixtures.js"
import * as ScriptedAnalyzer from "../support/ScriptedAnalyzer.js"
import type { StorageLayer } from "../support/Storage.js"

export const OWNER = "alice"
export const VERSION = "scripted-1"

const quiet = Logger.minimumLogLevel(LogLevel.Warning)

/** The Validator and Repairer over the stores. */
export const consistencyLayer = Repairer.layer.pipe(Layer.provideMerge(Validator.layer))

/** The host side: stores, Validator, Repairer, a SqlClient; no runner. */
export const hostLayer = (storage: StorageLayer, analyzer: Layer.Layer<Analyzer>) =>
  consistencyLayer.pipe(
    Layer.provideMerge(Insights.layerWithoutRunner),
    Layer.provideMerge(storage),
    Layer.provideMerge(analyzer),
    Layer.provide(quiet)
  )

/**
 * The whole library with a runner, plus the host side. The runner's lease
 * outlasts any clock jump of the pump; it polls every 5 seconds of the test
 * clock (a submit or a released lease wakes it at once), so a jump of
 * minutes costs few claims. `repair` is Insights.layer's option for its
 * repair sweep: left out, the sweep runs as it does by default.
 */
export const runnerLayer = (
  storage: StorageLayer,
  analyzer: Layer.Layer<Analyzer>,
  repair?: Repairer.ScheduleOptions | false
) =>
  consistencyLayer.pipe(
    Layer.provideMerge(
      libraryLayer(storage, analyzer, {
        leaseDuration: "10 minutes",
        pollInterval: "5 seconds",
        ...(repair === undefined ? {} : { repair })
      })
    ),
    Layer.provideMerge(storage),
    Layer.provideMerge(analyzer),
    Layer.provide(quiet)
  )

const liveWait = (millis: number) =>
  Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/**
 * Moves the test clock by `step` until `done` holds, letting real I/O run
 * between steps; dies after `maxSteps`.
 */
export const pumpUntil = <A, E, R>(
  what: string,
  probe: Effect.Effect<A, E, R>,
  done: (value: A) => boolean,
  options: { readonly step?: Duration.DurationInput; readonly maxSteps?: number } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const maxSteps = options.maxSteps ?? 400
    let last: A | undefined
    for (let i = 0; i < maxSteps; i++) {
      last = yield* probe
      if (done(last)) return last
      yield* TestClock.adjust(options.step ?? "1 second")
      yield* liveWait(5)
    }
    return yield* Effect.dieMessage(
      `gave up waiting for ${what}; last seen: ${JSON.stringify(last)}`
    )
  })

const decodeImport = Schema.decodeUnknownSync(ProfileImport)
const encodeResult = Schema.encodeSync(Schema.parseJson(AnalysisResult))
const encodeInsights = Schema.encodeSync(Schema.parseJson(ProfileInsights))

export interface Seeded {
  readonly profile: Profile
  readonly posts: ReadonlyArray<Post>
}

/** A profile with `count` posts, imported now. */
export const seedProfile = (handle: string, count = 12) =>
  Effect.gen(function* () {
    const profiles = yield* ProfileStore.ProfileStore
    const captions = Array.from({ length: count }, (_, i) => twelveCaptions[i % 12]!)
    const saved = yield* profiles.save(OWNER, decodeImport(ownProfile(handle, captions)))
    const posts = yield* profiles.posts(saved.profile.id)
    return { profile: saved.profile, posts } satisfies Seeded
  })

/** Analyses of `posts`, stored as a job's checkpoints would store them. */
export const insertAnalyses = (
  profileId: string,
  posts: ReadonlyArray<Post>,
  options: { readonly at: number; readonly jobId?: string | null; readonly version?: string }
) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO pi_post_analyses ${sql.insert(
      posts.map((post) => ({
        post_id: post.id,
        analyzer_version: options.version ?? VERSION,
        analyzer_id: "scripted",
        profile_id: profileId,
        job_id: options.jobId ?? null,
        status: "analysed",
        result: encodeResult(ScriptedAnalyzer.result(post.caption)),
        failure: null,
        analyzed_at: options.at
      }))
    )}`
  ).pipe(Effect.orDie, Effect.asVoid)

export interface JobSeed {
  readonly profileId: string
  readonly kind?: JobKind
  readonly status: JobStatus
  readonly done?: number
  readonly failed?: number
  readonly total?: number
  readonly epoch?: number
  readonly attempt?: number
  readonly leaseHolder?: string | null
  readonly leaseExpiresAt?: number | null
  readonly createdAt: number
  readonly finishedAt?: number | null
}

/** A job row as it would be stored; its id. */
export const insertJob = (job: JobSeed) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const id = crypto.randomUUID()
    return sql`INSERT INTO pi_jobs ${sql.insert({
      id,
      kind: job.kind ?? "analyze",
      profile_id: job.profileId,
      owner: OWNER,
      status: job.status,
      done: job.done ?? 0,
      failed: job.failed ?? 0,
      total: job.total ?? 0,
      attempt: job.attempt ?? 1,
      max_attempts: 5,
      lease_holder: job.leaseHolder ?? null,
      lease_expires_at: job.leaseExpiresAt ?? null,
      epoch: job.epoch ?? 1,
      run_after: job.createdAt,
      priority: 0,
      last_error: null,
      created_at: job.createdAt,
      updated_at: job.finishedAt ?? job.createdAt,
      finished_at: job.finishedAt ?? null
    })}`.pipe(Effect.as(id))
  }).pipe(Effect.orDie)

/**
 * The aggregate of the profile's stored analyses at `version`, as a job
 * completing at `at` would store it.
 */
export const insertAggregate = (
  seeded: Seeded,
  options: { readonly at: number; readonly jobId: string | null; readonly version?: string }
) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const profiles = yield* ProfileStore.ProfileStore
    const version = options.version ?? VERSION
    const analyses = yield* profiles.analyses(seeded.profile.id, version)
    const insights = aggregate({
      profile: seeded.profile,
      posts: seeded.posts,
      analyses,
      analyzerId: "scripted",
      analyzerVersion: version,
      now: new Date(options.at)
    })
    yield* sql`INSERT INTO pi_profile_insights ${sql.insert({
      profile_id: seeded.profile.id,
      analyzer_id: "scripted",
      analyzer_version: version,
      job_id: options.jobId,
      watermark_count: insights.watermark.analyses,
      watermark_at: insights.watermark.newestAnalysisAt?.getTime() ?? null,
      body: encodeInsights(insights),
      computed_at: options.at
    })}`
    return insights
  }).pipe(Effect.orDie)

/**
 * A profile analysed completely and correctly: 12 posts imported at t,
 * analysed at t+1s, a succeeded job finished at t+2s with its aggregate.
 */
export const seedHealthy = (handle: string, version = VERSION) =>
  Effect.gen(function* () {
    const t = yield* Clock.currentTimeMillis
    const seeded = yield* seedProfile(handle)
    const jobId = yield* insertJob({
      profileId: seeded.profile.id,
      status: "succeeded",
      done: 12,
      total: 12,
      createdAt: t,
      finishedAt: t + 2000
    })
    yield* insertAnalyses(seeded.profile.id, seeded.posts, { at: t + 1000, jobId, version })
    yield* insertAggregate(seeded, { at: t + 1500, jobId, version })
    yield* TestClock.adjust("10 seconds")
    return { ...seeded, jobId }
  })

/** A query's rows, or death: the tests' inspection of the database. */
export const rows = <A extends object = Record<string, unknown>>(
  query: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>
) => Effect.flatMap(SqlClient.SqlClient, query).pipe(Effect.orDie)

/** The first column of the first row as a number. */
export const scalar = (
  query: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<object>, unknown>
) =>
  Effect.map(rows(query), (rs) => Number(Object.values(rs[0] ?? {})[0] ?? 0))

export interface AuditRow {
  readonly violation: string
  readonly action: string
  readonly job_id: string | null
  readonly profile_id: string | null
  readonly post_ids: string
}

export const auditRows = rows<AuditRow>(
  (sql) => sql`SELECT violation, action, job_id, profile_id, post_ids
    FROM pi_repairs ORDER BY created_at, action`
)

/** The stored state of a profile's analysis, in one look. */
export const stateOf = (profileId: string) =>
  Effect.gen(function* () {
    const analysed = yield* scalar((sql) =>
      sql`SELECT COUNT(*) AS n FROM pi_post_analyses
        WHERE profile_id = ${profileId} AND analyzer_version = ${VERSION}`
    )
    const aggregate = yield* rows<{ watermark_count: number | string; analyzer_version: string }>(
      (sql) => sql`SELECT watermark_count, analyzer_version FROM pi_profile_insights
        WHERE profile_id = ${profileId}`
    )
    const active = yield* scalar((sql) =>
      sql`SELECT COUNT(*) AS n FROM pi_jobs WHERE profile_id = ${profileId}
        AND status IN ('queued', 'running')`
    )
    return {
      analysed,
      aggregated: aggregate[0] === undefined ? null : Number(aggregate[0].watermark_count),
      aggregateVersion: aggregate[0]?.analyzer_version ?? null,
      active
    }
  })

export const analyzer = ScriptedAnalyzer.make(VERSION)
