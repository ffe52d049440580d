/**
 * Jobs as stored, and every write a running job makes.
 *
 * Each write of a running job is fenced: it names the epoch the runner
 * got when it claimed the job, and commits only while the job is still
 * running at that epoch. A runner that lost its lease, or whose job was
 * cancelled, gets LeaseLost and commits nothing.
 */
import { SqlClient } from "@effect/sql"
import { Array as Arr, Clock, Context, Effect, Layer, Option } from "effect"
import type { Job, JobKind, PostAnalysis, ProfileInsights } from "./Domain.js"
import { LeaseLost, NotFound, StoreError } from "./Errors.js"
import { channels } from "./JobSignal.js"
import {
  notifyOnCommit,
  retryTransient,
  skipLocked,
  writeTransaction
} from "./store/Dialect.js"
import * as Rows from "./store/Rows.js"
import { orStoreError } from "./store/StoreError.js"

export interface SubmitOptions {
  readonly owner: string
  readonly profileId: string
  readonly kind: JobKind
  /** Higher runs first. Default 0. */
  readonly priority?: number | undefined
  /** Not before this time. Default: now. */
  readonly runAfter?: Date | undefined
  /** Claims allowed before the job fails for good. Default 5. */
  readonly maxAttempts?: number | undefined
}

/** The fence a runner holds on a claimed job. */
export interface Lease {
  readonly jobId: string
  readonly epoch: number
}

export interface JobStoreShape {
  /**
   * Records a job, or returns the active job of the same profile and kind
   * (single-flight, enforced by a unique index). Fails with NotFound when
   * the profile is not the owner's.
   */
  readonly submit: (
    options: SubmitOptions
  ) => Effect.Effect<Job, StoreError | NotFound>
  /** A job of the owner's. */
  readonly get: (owner: string, jobId: string) => Effect.Effect<Job, StoreError | NotFound>
  /** The owner's most recent job for a profile, if any. */
  readonly latestFor: (
    owner: string,
    profileId: string
  ) => Effect.Effect<Option.Option<Job>, StoreError>
  /** Cancels a queued or running job; a finished job is returned unchanged. */
  readonly cancel: (owner: string, jobId: string) => Effect.Effect<Job, StoreError | NotFound>
  /**
   * Takes the next due job: queued and due, or running with an expired
   * lease. Bumps the epoch and the attempt and sets the lease.
   */
  readonly claim: (
    runnerId: string,
    leaseMillis: number
  ) => Effect.Effect<Option.Option<Job>, StoreError>
  /** Extends the lease; LeaseLost when the runner no longer holds it. */
  readonly heartbeat: (
    lease: Lease,
    leaseMillis: number
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /** Sets the counters at the start of a run from what is already stored. */
  readonly begin: (
    lease: Lease,
    progress: { readonly total: number; readonly done: number; readonly failed: number }
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /** Stores one post's analysis and advances the counter, in one transaction. */
  readonly checkpoint: (
    lease: Lease,
    profileId: string,
    analysis: PostAnalysis
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /**
   * Stores several posts' analyses and advances the counters, in one
   * transaction: a group commit of analyses that finished together. An
   * analysis already stored is left as it is and not counted again, but
   * for a failure of the service stored by earlier versions, which is
   * replaced and counted (AnalyzeProfile counts only the failures it keeps).
   */
  readonly checkpointMany: (
    lease: Lease,
    profileId: string,
    analyses: ReadonlyArray<PostAnalysis>
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /**
   * Stores the aggregate, sets the counters from it and marks the job
   * succeeded, in one transaction.
   */
  readonly complete: (
    lease: Lease,
    insights: ProfileInsights
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /** Puts the job back in the queue to run again after `runAfter`. */
  readonly retry: (
    lease: Lease,
    error: string,
    runAfter: Date
  ) => Effect.Effect<void, StoreError | LeaseLost>
  /** Ends the job failed, with its last error. */
  readonly fail: (lease: Lease, error: string) => Effect.Effect<void, StoreError | LeaseLost>
  /**
   * Gives an unfinished job back at once, without spending an attempt, so
   * another runner can take it without waiting for the lease to expire.
   */
  readonly handBack: (lease: Lease) => Effect.Effect<void, StoreError | LeaseLost>
}

export class JobStore extends Context.Tag("profile-insights/JobStore")<
  JobStore,
  JobStoreShape
>() {}

const ACTIVE = ["queued", "running"] as const

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const selectJob = sql`SELECT id, kind, profile_id, owner, status, done,
    failed, total, attempt, max_attempts, lease_holder, lease_expires_at,
    epoch, run_after, priority, last_error, created_at, updated_at,
    finished_at FROM pi_jobs`

  const firstJob = (rows: ReadonlyArray<unknown>) =>
    Effect.map(Rows.decodeJobs(rows), (jobs) =>
      Option.map(Arr.head(jobs), Rows.toJob)
    )

  const byId = (jobId: string) =>
    Effect.flatMap(sql`${selectJob} WHERE id = ${jobId}`, firstJob)

  const fenced = (lease: Lease, now: number) =>
    sql`UPDATE pi_jobs SET updated_at = ${now}
      WHERE id = ${lease.jobId} AND epoch = ${lease.epoch}
      AND status = 'running' RETURNING id`.pipe(
      Effect.filterOrFail(
        (rows) => rows.length === 1,
        () => new LeaseLost(lease)
      )
    )

  const fencedWrite = <A, E, R>(
    operation: string,
    lease: Lease,
    body: (now: number) => Effect.Effect<A, E, R>
  ) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* fenced(lease, now)
      const result = yield* body(now)
      yield* notifyOnCommit(sql, channels.progress, lease.jobId)
      return result
    }).pipe(
      writeTransaction(sql),
      retryTransient,
      Effect.mapError((e) =>
        e instanceof LeaseLost ? e : new StoreError({ operation, cause: e })
      )
    )

  const insertJob = (options: SubmitOptions, now: number, total: number) =>
    sql<{ id: string }>`INSERT INTO pi_jobs ${sql.insert({
      id: crypto.randomUUID(),
      kind: options.kind,
      profile_id: options.profileId,
      owner: options.owner,
      status: "queued",
      total,
      max_attempts: options.maxAttempts ?? 5,
      run_after: options.runAfter?.getTime() ?? now,
      priority: options.priority ?? 0,
      created_at: now,
      updated_at: now
    })} ON CONFLICT DO NOTHING RETURNING id`

  const activeJob = (options: SubmitOptions) =>
    sql<{ id: string }>`SELECT id FROM pi_jobs
      WHERE profile_id = ${options.profileId} AND kind = ${options.kind}
      AND ${sql.in("status", ACTIVE)}`

  const submit: JobStoreShape["submit"] = (options) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const owned = yield* sql`SELECT id FROM pi_profiles
        WHERE id = ${options.profileId} AND owner = ${options.owner}`
      if (owned.length === 0) {
        return Option.none<string>()
      }
      const counted = yield* sql<{ posts: number | string }>`SELECT COUNT(*) AS posts
        FROM pi_posts WHERE profile_id = ${options.profileId}`
      const posts = Number(counted[0]?.posts ?? 0)
      // An insert that loses to an active job reads that job's id. If that
      // job finished in between, the next round inserts again.
      for (let round = 0; round < 3; round++) {
        const inserted = yield* insertJob(options, now, posts)
        const id = inserted[0]?.id ?? (yield* activeJob(options))[0]?.id
        if (id === undefined) continue
        if (inserted.length > 0) {
          yield* notifyOnCommit(sql, channels.submitted, id)
        }
        return Option.some(id)
      }
      return yield* Effect.dieMessage("submit: single-flight did not settle")
    }).pipe(
      writeTransaction(sql),
      retryTransient,
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(Option.none()),
        onSome: byId
      })),
      orStoreError("submit"),
      Effect.flatMap(Option.match({
        onNone: () =>
          Effect.fail(new NotFound({ entity: "profile", id: options.profileId })),
        onSome: Effect.succeed
      })),
      Effect.withSpan("JobStore.submit")
    )

  const get: JobStoreShape["get"] = (owner, jobId) =>
    sql`${selectJob} WHERE id = ${jobId} AND owner = ${owner}`.pipe(
      Effect.flatMap(firstJob),
      orStoreError("getJob"),
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(new NotFound({ entity: "job", id: jobId })),
        onSome: Effect.succeed
      }))
    )

  const latestFor: JobStoreShape["latestFor"] = (owner, profileId) =>
    sql`${selectJob} WHERE owner = ${owner} AND profile_id = ${profileId}
      ORDER BY created_at DESC LIMIT 1`.pipe(
      Effect.flatMap(firstJob),
      orStoreError("latestJob")
    )

  const cancel: JobStoreShape["cancel"] = (owner, jobId) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      yield* sql`UPDATE pi_jobs SET status = 'cancelled', finished_at = ${now},
        updated_at = ${now}, lease_holder = NULL, lease_expires_at = NULL
        WHERE id = ${jobId} AND owner = ${owner}
        AND ${sql.in("status", ACTIVE)}`
      yield* notifyOnCommit(sql, channels.progress, jobId)
    }).pipe(
      writeTransaction(sql),
      retryTransient,
      orStoreError("cancel"),
      Effect.zipRight(get(owner, jobId))
    )

  // One statement: the due job is chosen and taken together.
  const claim: JobStoreShape["claim"] = (runnerId, leaseMillis) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`UPDATE pi_jobs SET status = 'running',
        lease_holder = ${runnerId}, lease_expires_at = ${now + leaseMillis},
        epoch = epoch + 1, attempt = attempt + 1, updated_at = ${now}
        WHERE id = (
          SELECT id FROM pi_jobs
          WHERE (status = 'queued' AND run_after <= ${now})
          OR (status = 'running' AND lease_expires_at < ${now})
          ORDER BY priority DESC, run_after, created_at
          LIMIT 1 ${skipLocked(sql)}
        )
        RETURNING id, kind, profile_id, owner, status, done, failed, total,
        attempt, max_attempts, lease_holder, lease_expires_at, epoch,
        run_after, priority, last_error, created_at, updated_at, finished_at`
      return yield* firstJob(rows)
    }).pipe(writeTransaction(sql), retryTransient, orStoreError("claim"))

  const heartbeat: JobStoreShape["heartbeat"] = (lease, leaseMillis) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`UPDATE pi_jobs
        SET lease_expires_at = ${now + leaseMillis}, updated_at = ${now}
        WHERE id = ${lease.jobId} AND epoch = ${lease.epoch}
        AND status = 'running' RETURNING id`
      return rows.length === 1
    }).pipe(
      orStoreError("heartbeat"),
      Effect.filterOrFail(
        (held) => held,
        () => new LeaseLost(lease)
      ),
      Effect.asVoid
    )

  const begin: JobStoreShape["begin"] = (lease, progress) =>
    fencedWrite("begin", lease, () =>
      sql`UPDATE pi_jobs SET total = ${progress.total},
        done = ${progress.done}, failed = ${progress.failed}
        WHERE id = ${lease.jobId}`
    ).pipe(Effect.asVoid)

  const analysisRow = (lease: Lease, profileId: string, analysis: PostAnalysis) =>
    Effect.gen(function* () {
      const outcome = analysis.outcome
      return {
        post_id: analysis.postId,
        analyzer_version: analysis.analyzerVersion,
        analyzer_id: analysis.analyzerId,
        profile_id: profileId,
        job_id: lease.jobId,
        status: outcome._tag === "Analysed" ? "analysed" : "failed",
        result: outcome._tag === "Analysed"
          ? yield* Rows.encodeResult(outcome.result)
          : null,
        failure: outcome._tag === "Failed"
          ? yield* Rows.encodeFailure(outcome.failure)
          : null,
        analyzed_at: analysis.analyzedAt.getTime()
      }
    })

  // The analyses first, then the job's row: the counter update is the fence,
  // and a refused fence rolls the analyses back with it. Every checkpoint
  // takes its locks in this one order.
  const checkpointMany: JobStoreShape["checkpointMany"] = (lease, profileId, analyses) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* Effect.forEach(analyses, (a) => analysisRow(lease, profileId, a))
      // A stored failure of the service (Timeout, RateLimited, Unavailable),
      // left by versions that recorded those as the post's, is replaced;
      // anything else stored stays as it is.
      const inserted = yield* sql<{ status: string }>`INSERT INTO pi_post_analyses
        ${sql.insert(rows)} ON CONFLICT (post_id, analyzer_version) DO UPDATE SET
        analyzer_id = excluded.analyzer_id, profile_id = excluded.profile_id,
        job_id = excluded.job_id, status = excluded.status,
        result = excluded.result, failure = excluded.failure,
        analyzed_at = excluded.analyzed_at
        WHERE pi_post_analyses.status = 'failed' AND (
          pi_post_analyses.failure LIKE ${"%\"reason\":\"Timeout\"%"}
          OR pi_post_analyses.failure LIKE ${"%\"reason\":\"RateLimited\"%"}
          OR pi_post_analyses.failure LIKE ${"%\"reason\":\"Unavailable\"%"})
        RETURNING status`
      const done = inserted.filter((r) => r.status === "analysed").length
      const failed = inserted.length - done
      const fenced = yield* sql`UPDATE pi_jobs SET done = done + ${done},
        failed = failed + ${failed}, updated_at = ${now}
        WHERE id = ${lease.jobId} AND epoch = ${lease.epoch}
        AND status = 'running' RETURNING id`
      if (fenced.length !== 1) return yield* new LeaseLost(lease)
      yield* notifyOnCommit(sql, channels.progress, lease.jobId)
    }).pipe(
      writeTransaction(sql),
      retryTransient,
      Effect.mapError((e) =>
        e instanceof LeaseLost ? e : new StoreError({ operation: "checkpoint", cause: e })
      ),
      Effect.withSpan("JobStore.checkpoint", { attributes: { posts: analyses.length } })
    )

  const checkpoint: JobStoreShape["checkpoint"] = (lease, profileId, analysis) =>
    checkpointMany(lease, profileId, [analysis])

  const complete: JobStoreShape["complete"] = (lease, insights) =>
    fencedWrite("complete", lease, (now) =>
      Effect.gen(function* () {
        const body = yield* Rows.encodeInsights(insights)
        yield* sql`INSERT INTO pi_profile_insights ${sql.insert({
          profile_id: insights.profileId,
          analyzer_id: insights.analyzerId,
          analyzer_version: insights.analyzerVersion,
          job_id: lease.jobId,
          watermark_count: insights.watermark.analyses,
          watermark_at: insights.watermark.newestAnalysisAt?.getTime() ?? null,
          body,
          computed_at: insights.computedAt.getTime()
        })} ON CONFLICT (profile_id) DO UPDATE SET
          analyzer_id = excluded.analyzer_id,
          analyzer_version = excluded.analyzer_version,
          job_id = excluded.job_id, watermark_count = excluded.watermark_count,
          watermark_at = excluded.watermark_at, body = excluded.body,
          computed_at = excluded.computed_at`
        yield* sql`UPDATE pi_jobs SET status = 'succeeded', finished_at = ${now},
          total = ${insights.posts.total}, done = ${insights.posts.analysed},
          failed = ${insights.posts.failed},
          lease_holder = NULL, lease_expires_at = NULL, last_error = NULL
          WHERE id = ${lease.jobId}`
      })
    ).pipe(Effect.withSpan("JobStore.complete"))

  const retry: JobStoreShape["retry"] = (lease, error, runAfter) =>
    fencedWrite("retry", lease, () =>
      sql`UPDATE pi_jobs SET status = 'queued', lease_holder = NULL,
        lease_expires_at = NULL, run_after = ${runAfter.getTime()},
        last_error = ${error} WHERE id = ${lease.jobId}`
    ).pipe(Effect.asVoid)

  const fail: JobStoreShape["fail"] = (lease, error) =>
    fencedWrite("fail", lease, (now) =>
      sql`UPDATE pi_jobs SET status = 'failed', finished_at = ${now},
        lease_holder = NULL, lease_expires_at = NULL, last_error = ${error}
        WHERE id = ${lease.jobId}`
    ).pipe(Effect.asVoid)

  const handBack: JobStoreShape["handBack"] = (lease) =>
    fencedWrite("handBack", lease, (now) =>
      sql`UPDATE pi_jobs SET status = 'queued', lease_holder = NULL,
        lease_expires_at = NULL, run_after = ${now},
        attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END
        WHERE id = ${lease.jobId}`
    ).pipe(Effect.asVoid)

  return JobStore.of({
    submit,
    get,
    latestFor,
    cancel,
    claim,
    heartbeat,
    begin,
    checkpoint,
    checkpointMany,
    complete,
    retry,
    fail,
    handBack
  })
})

export const layer = Layer.effect(JobStore, make)
