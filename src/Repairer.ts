/**
 * The repairer: restores the invariants the Validator checks, on demand and
 * on a schedule inside the runner.
 *
 * Each repair is conditional on the state it was validated against. Before
 * acting on a profile the repairer validates that profile again, and acts
 * only on violations still there; every write then names what it expects
 * (a job's epoch and status, its counters, that a post is still missing),
 * so repairers in several processes, runners and hosts can all work at
 * once: a repair that lost a race changes nothing and says so.
 *
 * Work that needs the analyzer (analysing posts, aggregating) is never done
 * here: the repairer submits a "refresh" or "reaggregate" job through the
 * JobStore and a runner does it. Every change is recorded in pi_repairs,
 * in the transaction that makes it.
 */
import { SqlClient } from "@effect/sql"
import {
  Array as Arr,
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Schedule,
  Schema,
  type Scope,
  Stream
} from "effect"
import type { Analyzer } from "./Analyzer.js"
import { JobKind, JobStatus } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import { channels, JobSignal } from "./JobSignal.js"
import { JobStore } from "./JobStore.js"
import { notifyOnCommit, retryTransient, writeTransaction } from "./store/Dialect.js"
import { orStoreError } from "./store/StoreError.js"
import * as Validator from "./Validator.js"

/** What a repair did, as recorded in pi_repairs.action. */
export const RepairAction = Schema.Literal(
  "submitted-job",
  "released-lease",
  "cancelled-job",
  "deleted-analyses",
  "recounted-progress",
  "deleted-aggregate",
  "deleted-jobs",
  "deleted-profile-rows"
)
export type RepairAction = typeof RepairAction.Type

export class RepairRecord extends Schema.Class<RepairRecord>("RepairRecord")({
  /** The violations this action answers. */
  violations: Schema.Array(Validator.ViolationKind),
  action: RepairAction,
  /**
   * skipped: the state changed since it was validated, or the repair was
   * held back; failed: the repair itself failed (the sweep goes on with
   * the others). `reason` says which.
   */
  outcome: Schema.Literal("applied", "skipped", "failed"),
  reason: Schema.String,
  profileId: Schema.String,
  jobId: Schema.NullOr(Schema.String),
  postIds: Schema.Array(Schema.String)
}) {}

export class RepairReport extends Schema.Class<RepairReport>("RepairReport")({
  runId: Schema.String,
  actor: Schema.String,
  analyzerVersion: Schema.String,
  startedAt: Schema.Date,
  finishedAt: Schema.Date,
  profiles: Schema.NonNegativeInt,
  /** Every violation found, repaired or not. */
  violations: Schema.Array(Validator.Violation),
  actions: Schema.Array(RepairRecord)
}) {
  /** Actions that changed the database. */
  get changed(): number {
    return this.actions.filter((a) => a.outcome === "applied").length
  }
}

export interface RepairOptions extends Validator.ValidateOptions {
  /**
   * Kinds of violation to repair; others are reported only. Default: all.
   * Without "StaleAnalyses", no job is submitted for a profile that has
   * stale analyses (every job analyses what is not at the runner's
   * version, stale posts included); its other job-needing violations are
   * reported as skipped.
   */
  readonly kinds?: ReadonlyArray<Validator.ViolationKind> | undefined
  /** Names this repairer in pi_repairs.actor. Default "repairer-<random>". */
  readonly actor?: string | undefined
}

export interface RepairerShape {
  /**
   * Validates the whole database page by page and repairs each page's
   * violations before reading the next. Idempotent: run on a repaired
   * database, it changes nothing.
   */
  readonly repair: (options?: RepairOptions) => Effect.Effect<RepairReport, StoreError>
}

export class Repairer extends Context.Tag("profile-insights/Repairer")<
  Repairer,
  RepairerShape
>() {}

interface Run {
  readonly runId: string
  readonly actor: string
}

interface AuditEntry {
  readonly violation: Validator.ViolationKind
  readonly action: RepairAction
  readonly profileId: string
  readonly jobId: string | null
  readonly postIds: ReadonlyArray<string>
  readonly reason: string
  readonly detail: unknown
}

const ACTIVE = ["queued", "running"] as const
const DELETE_BATCH = 200

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const validator = yield* Validator.Validator
  const jobs = yield* JobStore
  const signal = yield* Effect.serviceOption(JobSignal)
  const wake = Option.match(signal, { onNone: () => Effect.void, onSome: (s) => s.notify })

  /** Records one change; in the caller's transaction. */
  const audit = (run: Run, entry: AuditEntry, now: number) =>
    sql<{ id: string }>`INSERT INTO pi_repairs ${sql.insert({
      id: crypto.randomUUID(),
      run_id: run.runId,
      actor: run.actor,
      violation: entry.violation,
      action: entry.action,
      profile_id: entry.profileId,
      job_id: entry.jobId,
      post_ids: JSON.stringify(entry.postIds),
      reason: entry.reason,
      detail: JSON.stringify(entry.detail),
      created_at: now
    })} ON CONFLICT DO NOTHING RETURNING id`

  const transaction = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>) =>
    effect.pipe(writeTransaction(sql), retryTransient, orStoreError(operation))

  const record = (
    violations: ReadonlyArray<Validator.Violation>,
    action: RepairAction,
    applied: boolean | "failed",
    reason: string,
    ids: { readonly jobId?: string | null; readonly postIds?: ReadonlyArray<string> } = {}
  ) =>
    new RepairRecord({
      violations: violations.map((v) => v._tag),
      action,
      outcome: applied === "failed" ? "failed" : applied ? "applied" : "skipped",
      reason,
      profileId: violations[0]!.profileId,
      jobId: ids.jobId ?? null,
      postIds: ids.postIds ?? []
    })

  const releaseLease = (run: Run, v: Validator.ExpiredLease) =>
    transaction(
      "releaseLease",
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<{ epoch: number | string }>`UPDATE pi_jobs
          SET status = 'queued', lease_holder = NULL, lease_expires_at = NULL,
          epoch = epoch + 1, run_after = ${now}, updated_at = ${now}
          WHERE id = ${v.jobId} AND status = 'running' AND epoch = ${v.epoch}
          AND (lease_expires_at IS NULL OR lease_expires_at < ${now})
          RETURNING epoch`
        if (rows.length === 0) return false
        yield* audit(run, {
          violation: v._tag,
          action: "released-lease",
          profileId: v.profileId,
          jobId: v.jobId,
          postIds: [],
          reason: Validator.describe(v),
          detail: {
            epoch: { before: v.epoch, after: Number(rows[0]!.epoch) },
            leaseHolder: v.leaseHolder,
            leaseExpiresAt: v.leaseExpiresAt?.toISOString() ?? null
          }
        }, now)
        yield* notifyOnCommit(sql, channels.submitted, v.jobId)
        return true
      })
    ).pipe(
      Effect.tap((applied) => (applied ? wake : Effect.void)),
      Effect.map((applied) =>
        record(
          [v],
          "released-lease",
          applied,
          applied
            ? `queued again at epoch ${v.epoch + 1}; a runner at epoch ${v.epoch} is fenced`
            : "the job moved on since it was validated",
          { jobId: v.jobId }
        )
      )
    )

  const cancelDuplicates = (run: Run, v: Validator.DuplicateActiveJobs) =>
    Effect.forEach(v.duplicates, (duplicate) =>
      transaction(
        "cancelDuplicate",
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const reason = `cancelled by repair: duplicate of active job ${v.keepJobId}`
          const rows = yield* sql`UPDATE pi_jobs SET status = 'cancelled',
            finished_at = ${now}, updated_at = ${now}, lease_holder = NULL,
            lease_expires_at = NULL, last_error = ${reason}
            WHERE id = ${duplicate.jobId} AND epoch = ${duplicate.epoch}
            AND ${sql.in("status", ACTIVE)}
            AND EXISTS (SELECT 1 FROM pi_jobs k WHERE k.id = ${v.keepJobId}
              AND k.status IN ('queued', 'running'))
            RETURNING id`
          if (rows.length === 0) return false
          yield* audit(run, {
            violation: v._tag,
            action: "cancelled-job",
            profileId: v.profileId,
            jobId: duplicate.jobId,
            postIds: [],
            reason: Validator.describe(v),
            detail: { kind: v.kind, kept: v.keepJobId, epoch: duplicate.epoch }
          }, now)
          yield* notifyOnCommit(sql, channels.progress, duplicate.jobId)
          return true
        })
      ).pipe(
        Effect.map((applied) =>
          record(
            [v],
            "cancelled-job",
            applied,
            applied
              ? `duplicate of ${v.keepJobId}`
              : "the duplicate or the job kept moved on since validation",
            { jobId: duplicate.jobId }
          )
        )
      )
    )

  const deleteOrphans = (run: Run, v: Validator.OrphanAnalyses) =>
    Effect.forEach(Arr.chunksOf(v.analyses, DELETE_BATCH), (chunk) =>
      transaction(
        "deleteOrphans",
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const deleted = yield* sql<{ post_id: string; analyzer_version: string }>`
            DELETE FROM pi_post_analyses WHERE ${sql.or(
              chunk.map((a) =>
                sql`(post_id = ${a.postId} AND analyzer_version = ${a.analyzerVersion})`
              )
            )}
            AND NOT EXISTS (SELECT 1 FROM pi_posts p WHERE p.id = pi_post_analyses.post_id
              AND p.profile_id = pi_post_analyses.profile_id)
            RETURNING post_id, analyzer_version`
          if (deleted.length === 0) return []
          const postIds = deleted.map((d) => d.post_id)
          yield* audit(run, {
            violation: v._tag,
            action: "deleted-analyses",
            profileId: v.profileId,
            jobId: null,
            postIds,
            reason: Validator.describe(v),
            detail: {
              analyses: deleted.map((d) => ({
                postId: d.post_id,
                analyzerVersion: d.analyzer_version
              }))
            }
          }, now)
          return postIds
        })
      ).pipe(
        Effect.map((postIds) =>
          record(
            [v],
            "deleted-analyses",
            postIds.length > 0,
            postIds.length > 0
              ? `deleted ${postIds.length} analysis(es) of posts that no longer exist`
              : "already deleted, or their posts are back",
            { postIds: postIds.length > 0 ? postIds : chunk.map((a) => a.postId) }
          )
        )
      )
    )

  const recountProgress = (run: Run, v: Validator.ProgressMismatch) =>
    transaction(
      "recountProgress",
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql`UPDATE pi_jobs SET total = ${v.stored.total},
          done = ${v.stored.done}, failed = ${v.stored.failed}, updated_at = ${now}
          WHERE id = ${v.jobId} AND status = 'succeeded'
          AND total = ${v.recorded.total} AND done = ${v.recorded.done}
          AND failed = ${v.recorded.failed}
          AND NOT EXISTS (SELECT 1 FROM pi_jobs k WHERE k.profile_id = ${v.profileId}
            AND k.status IN ('queued', 'running'))
          RETURNING id`
        if (rows.length === 0) return false
        yield* audit(run, {
          violation: v._tag,
          action: "recounted-progress",
          profileId: v.profileId,
          jobId: v.jobId,
          postIds: [],
          reason: Validator.describe(v),
          detail: { before: v.recorded, after: v.stored, analyzerVersion: v.analyzerVersion }
        }, now)
        yield* notifyOnCommit(sql, channels.progress, v.jobId)
        return true
      })
    ).pipe(
      Effect.map((applied) =>
        record(
          [v],
          "recounted-progress",
          applied,
          applied
            ? `counters set to the stored analyses`
            : "the job's counters or its profile changed since validation",
          { jobId: v.jobId }
        )
      )
    )

  /** The row `v` names, read for update in the current transaction. */
  const forUpdate = sql.onDialectOrElse({
    pg: () => sql.literal("FOR UPDATE"),
    orElse: () => sql.literal("")
  })

  const stillUndecodable = <A, I>(schema: Schema.Schema<A, I>, row: unknown) =>
    Either.isLeft(Schema.decodeUnknownEither(schema)(row))

  /**
   * Deletes an undecodable analysis or aggregate, if it still does not
   * decode. The job that analyses the post again or rebuilds the aggregate
   * is submitted with the profile's other job-needing violations.
   */
  const deleteUndecodable = (run: Run, v: Validator.UndecodableRow) =>
    transaction(
      "deleteUndecodable",
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const analysis = v.table === "pi_post_analyses"
        const rows = analysis
          ? yield* sql`SELECT status, result, failure FROM pi_post_analyses
            WHERE post_id = ${v.rowId} AND analyzer_version = ${v.analyzerVersion ?? ""}
            AND profile_id = ${v.profileId} ${forUpdate}`
          : yield* sql`SELECT profile_id, analyzer_version, job_id, watermark_count,
            watermark_at, body FROM pi_profile_insights
            WHERE profile_id = ${v.profileId} ${forUpdate}`
        const row = rows[0]
        if (row === undefined) return "already deleted"
        const bad = analysis
          ? stillUndecodable(Validator.AnalysisRow, row)
          : stillUndecodable(Validator.AggregateRow, row)
        if (!bad) {
          return "the row decodes now"
        }
        if (analysis) {
          yield* sql`DELETE FROM pi_post_analyses WHERE post_id = ${v.rowId}
            AND analyzer_version = ${v.analyzerVersion ?? ""} AND profile_id = ${v.profileId}`
        } else {
          yield* sql`DELETE FROM pi_profile_insights WHERE profile_id = ${v.profileId}`
        }
        yield* audit(run, {
          violation: v._tag,
          action: analysis ? "deleted-analyses" : "deleted-aggregate",
          profileId: v.profileId,
          jobId: null,
          postIds: analysis ? [v.rowId] : [],
          reason: Validator.describe(v),
          detail: { table: v.table, row, error: v.error }
        }, now)
        return true
      })
    ).pipe(
      Effect.map((outcome) =>
        record(
          [v],
          v.table === "pi_post_analyses" ? "deleted-analyses" : "deleted-aggregate",
          outcome === true,
          outcome === true
            ? v.table === "pi_post_analyses"
              ? "deleted the undecodable analysis; the post is analysed again"
              : "deleted the undecodable aggregate; it is computed again"
            : outcome,
          { postIds: v.table === "pi_post_analyses" ? [v.rowId] : [] }
        )
      )
    )

  /**
   * Puts an undecodable job back into a possible state: an impossible
   * status becomes cancelled (last_error says why), impossible counters
   * are recounted from the stored analyses (at the version of the
   * profile's aggregate, else the validator's), and a row that still does
   * not decode (an unknown kind, a negative epoch) is deleted.
   */
  const repairJob = (run: Run, v: Validator.UndecodableRow) =>
    transaction(
      "repairJob",
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const read = sql<Record<string, unknown>>`SELECT id, kind, profile_id, status,
          done, failed, total, epoch, lease_holder, lease_expires_at, created_at,
          finished_at FROM pi_jobs WHERE id = ${v.rowId} ${forUpdate}`
        const before = (yield* read)[0]
        if (before === undefined) {
          return { action: "cancelled-job" as const, outcome: "already deleted" }
        }
        if (!stillUndecodable(Validator.JobRow, before)) {
          return { action: "recounted-progress" as const, outcome: "the job decodes now" }
        }
        const steps: Array<string> = []
        const status = String(before.status)
        if (!(JobStatus.literals as ReadonlyArray<string>).includes(status)) {
          const reason = `cancelled by repair: '${status}' is not a job status`
          yield* sql`UPDATE pi_jobs SET status = 'cancelled', finished_at = ${now},
            updated_at = ${now}, lease_holder = NULL, lease_expires_at = NULL,
            last_error = ${reason} WHERE id = ${v.rowId}`
          steps.push(reason)
        }
        const counters = ["done", "failed", "total"].map((c) => Number(before[c]))
        const [done, failed, total] = counters as [number, number, number]
        if (
          counters.some((n) => !Number.isInteger(n) || n < 0) ||
          done + failed > total
        ) {
          const aggregate = yield* sql<{ analyzer_version: string }>`SELECT analyzer_version
            FROM pi_profile_insights WHERE profile_id = ${v.profileId}`
          const version = aggregate[0]?.analyzer_version ?? validator.analyzerVersion
          const stored = (status: string) => sql`(SELECT COUNT(*) FROM pi_post_analyses a
            JOIN pi_posts p ON p.id = a.post_id AND p.profile_id = a.profile_id
            WHERE a.profile_id = ${v.profileId} AND a.analyzer_version = ${version}
            AND a.status = ${status})`
          yield* sql`UPDATE pi_jobs SET
            total = (SELECT COUNT(*) FROM pi_posts WHERE profile_id = ${v.profileId}),
            done = ${stored("analysed")}, failed = ${stored("failed")}, updated_at = ${now}
            WHERE id = ${v.rowId}`
          steps.push(`counters ${done}+${failed}/${total} recounted at ${version}`)
        }
        const after = (yield* read)[0]
        let action: RepairAction = steps.length > 0 && steps[0]!.startsWith("cancelled")
          ? "cancelled-job"
          : "recounted-progress"
        if (after !== undefined && stillUndecodable(Validator.JobRow, after)) {
          yield* sql`DELETE FROM pi_jobs WHERE id = ${v.rowId}`
          steps.push("deleted: no possible state keeps its row")
          action = "deleted-jobs"
        }
        yield* audit(run, {
          violation: v._tag,
          action,
          profileId: v.profileId,
          jobId: v.rowId,
          postIds: [],
          reason: Validator.describe(v),
          detail: { before, after: action === "deleted-jobs" ? null : after, steps }
        }, now)
        yield* notifyOnCommit(sql, channels.progress, v.rowId)
        return { action, outcome: steps.join("; ") }
      })
    ).pipe(
      Effect.map(({ action, outcome }) =>
        record(
          [v],
          action,
          !outcome.startsWith("already") && !outcome.startsWith("the job decodes"),
          outcome,
          { jobId: v.rowId }
        )
      )
    )

  /** Deletes the jobs and aggregate of a profile that no longer exists. */
  const deleteProfileRows = (run: Run, v: Validator.RowsOfMissingProfile) =>
    transaction(
      "deleteProfileRows",
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const gone = sql`NOT EXISTS (SELECT 1 FROM pi_profiles p WHERE p.id = ${v.profileId})`
        const jobIds = v.jobIds.length === 0
          ? []
          : (yield* sql<{ id: string }>`DELETE FROM pi_jobs WHERE profile_id = ${v.profileId}
            AND ${sql.in("id", v.jobIds)} AND ${gone} RETURNING id`).map((r) => r.id)
        const aggregate = v.aggregate
          ? (yield* sql`DELETE FROM pi_profile_insights WHERE profile_id = ${v.profileId}
            AND ${gone} RETURNING profile_id`).length > 0
          : false
        if (jobIds.length === 0 && !aggregate) return null
        yield* audit(run, {
          violation: v._tag,
          action: "deleted-profile-rows",
          profileId: v.profileId,
          jobId: null,
          postIds: [],
          reason: Validator.describe(v),
          detail: { jobIds, aggregate }
        }, now)
        return { jobIds, aggregate }
      })
    ).pipe(
      Effect.map((deleted) =>
        record(
          [v],
          "deleted-profile-rows",
          deleted !== null,
          deleted === null
            ? "already deleted, or the profile is back"
            : `deleted ${deleted.jobIds.length} job(s)` +
              `${deleted.aggregate ? " and the aggregate" : ""} of a missing profile`
        )
      )
    )

  type JobViolation =
    | Validator.SucceededJobIncomplete
    | Validator.MissingAggregate
    | Validator.StaleAggregate
    | Validator.StaleAnalyses
    | Validator.UndecodableRow

  /**
   * One job for every violation of a profile that needs one: a refresh
   * analyses what is missing or stale and aggregates; a reaggregate (the
   * same program, with nothing to analyse) only aggregates.
   */
  const submitJob = (run: Run, violations: ReadonlyArray<JobViolation>) =>
    Effect.gen(function* () {
      const first = violations[0]!
      const kind: JobKind = violations.some((v) =>
          v.repair === "RefreshProfile" || v.repair === "DeleteAnalysis"
        )
        ? "refresh"
        : "reaggregate"
      const postIds = violations.flatMap((v) =>
        v._tag === "SucceededJobIncomplete" || v._tag === "StaleAnalyses"
          ? v.postIds
          : v._tag === "UndecodableRow" && v.table === "pi_post_analyses"
          ? [v.rowId]
          : []
      )
      if (first.owner === null) {
        return record(violations, "submitted-job", false, "the profile no longer exists")
      }
      const submitted = yield* jobs.submit({
        owner: first.owner,
        profileId: first.profileId,
        kind
      }).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeedNone)
      )
      if (Option.isNone(submitted)) {
        return record(violations, "submitted-job", false, "the profile no longer exists")
      }
      const job = submitted.value
      const recorded = yield* transaction(
        "auditSubmit",
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          audit(run, {
            violation: first._tag,
            action: "submitted-job",
            profileId: first.profileId,
            jobId: job.id,
            postIds,
            reason: violations.map(Validator.describe).join("; "),
            detail: { kind, violations: violations.map((v) => v._tag) }
          }, now)
        )
      )
      yield* wake
      return recorded.length > 0
        ? record(violations, "submitted-job", true, `${kind} job ${job.id} queued`, {
          jobId: job.id,
          postIds
        })
        : record(violations, "submitted-job", false, `${kind} job ${job.id} already requested`, {
          jobId: job.id,
          postIds
        })
    })

  /** A repair that failed is recorded as failed; the sweep goes on. */
  const guarded = (
    violations: ReadonlyArray<Validator.Violation>,
    effect: Effect.Effect<RepairRecord | ReadonlyArray<RepairRecord>, StoreError>
  ) =>
    effect.pipe(
      Effect.map((r): ReadonlyArray<RepairRecord> => (Array.isArray(r) ? r : [r as RepairRecord])),
      Effect.catchAllCause((cause) =>
        Effect.logWarning("repair failed", cause).pipe(
          Effect.annotateLogs({ profileId: violations[0]!.profileId }),
          Effect.as([
            record(
              violations,
              actionFor(violations[0]!),
              "failed",
              Cause.pretty(cause).split("\n")[0]!.slice(0, 500)
            )
          ])
        )
      )
    )

  /**
   * Repairs the violations of one profile that are confirmed still there.
   * `holdJobs`: why no job may be submitted for the profile, if so.
   */
  const repairProfile = (
    run: Run,
    violations: ReadonlyArray<Validator.Violation>,
    holdJobs: string | null
  ) =>
    Effect.gen(function* () {
      const records: Array<RepairRecord> = []
      const needJob: Array<JobViolation> = []
      for (const v of violations) {
        switch (v._tag) {
          case "DuplicateActiveJobs":
            records.push(...(yield* guarded([v], cancelDuplicates(run, v))))
            break
          case "ExpiredLease":
            records.push(...(yield* guarded([v], releaseLease(run, v))))
            break
          case "OrphanAnalyses":
            records.push(...(yield* guarded([v], deleteOrphans(run, v))))
            break
          case "ProgressMismatch":
            records.push(...(yield* guarded([v], recountProgress(run, v))))
            break
          case "RowsOfMissingProfile":
            records.push(...(yield* guarded([v], deleteProfileRows(run, v))))
            break
          case "UndecodableRow":
            if (v.table === "pi_jobs") {
              records.push(...(yield* guarded([v], repairJob(run, v))))
              break
            }
            records.push(...(yield* guarded([v], deleteUndecodable(run, v))))
            needJob.push(v)
            break
          default:
            needJob.push(v)
        }
      }
      if (needJob.length > 0) {
        records.push(
          ...(holdJobs === null
            ? yield* guarded(needJob, submitJob(run, needJob))
            : [record(needJob, "submitted-job", false, holdJobs)])
        )
      }
      return records
    })

  const repair: RepairerShape["repair"] = (options) =>
    Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      const run: Run = {
        runId: crypto.randomUUID(),
        actor: options?.actor ?? `repairer-${crypto.randomUUID().slice(0, 8)}`
      }
      const kinds = new Set(options?.kinds ?? Validator.violationKinds)
      const found: Array<Validator.Violation> = []
      const actions: Array<RepairRecord> = []
      let profiles = 0

      yield* Stream.runForEach(validator.pages(options), (page) =>
        Effect.gen(function* () {
          profiles += page.profiles
          found.push(...page.violations)
          const wanted = page.violations.filter((v) => kinds.has(v._tag))
          for (const [profileId, seen] of Object.entries(Arr.groupBy(wanted, (v) => v.profileId))) {
            const recheck = yield* Effect.either(validator.validateProfile(profileId))
            if (Either.isLeft(recheck)) {
              yield* Effect.logWarning("repair re-check failed", recheck.left).pipe(
                Effect.annotateLogs({ profileId })
              )
              for (const v of seen) {
                actions.push(record([v], actionFor(v), "failed", recheck.left.message))
              }
              continue
            }
            const now = new Map(recheck.right.map((v) => [Validator.keyOf(v), v]))
            const confirmed = seen.flatMap((v) => {
              const current = now.get(Validator.keyOf(v))
              return current === undefined ? [] : [current]
            })
            for (const v of seen) {
              if (!now.has(Validator.keyOf(v))) {
                actions.push(
                  record([v], actionFor(v), false, "no longer present when re-checked")
                )
              }
            }
            // Every job analyses what is not at the runner's version, stale
            // posts included: none is submitted for a profile whose stale
            // analyses are not to be repaired.
            const stale = recheck.right.find((v) => v._tag === "StaleAnalyses")
            const holdJobs = stale !== undefined && !kinds.has("StaleAnalyses")
              ? `held back: a job would analyse the profile's ${stale.posts} stale post(s) ` +
                `again, and StaleAnalyses is not among the kinds repaired`
              : null
            actions.push(...(yield* repairProfile(run, confirmed, holdJobs)))
          }
        })
      )

      const finishedAt = yield* Clock.currentTimeMillis
      return new RepairReport({
        runId: run.runId,
        actor: run.actor,
        analyzerVersion: validator.analyzerVersion,
        startedAt: new Date(startedAt),
        finishedAt: new Date(finishedAt),
        profiles,
        violations: found,
        actions
      })
    }).pipe(Effect.withSpan("Repairer.repair"))

  return Repairer.of({ repair })
})

const actionFor = (v: Validator.Violation): RepairAction => {
  switch (v.repair) {
    case "RefreshProfile":
    case "Reaggregate":
      return "submitted-job"
    case "RecountProgress":
      return "recounted-progress"
    case "ReleaseLease":
      return "released-lease"
    case "CancelDuplicates":
      return "cancelled-job"
    case "DeleteOrphans":
    case "DeleteAnalysis":
      return "deleted-analyses"
    case "RebuildAggregate":
      return "deleted-aggregate"
    case "RecountOrCancelJob":
      return "recounted-progress"
    case "DeleteProfileRows":
      return "deleted-profile-rows"
  }
}

/**
 * The repairer. Needs a Validator and the JobStore; wakes the runners of
 * this process through JobSignal when one is provided.
 */
export const layer: Layer.Layer<
  Repairer,
  never,
  SqlClient.SqlClient | Validator.Validator | JobStore
> = Layer.effect(Repairer, make)

/**
 * The kinds a scheduled sweep repairs unless told otherwise: every kind but
 * StaleAnalyses. Stale is relative to the sweeping process's analyzer, and
 * repairing it starts analysis work (possibly paid), so a sweep only
 * reports it; `repair()` on demand, or a schedule whose `kinds` include it,
 * refreshes stale profiles.
 */
export const scheduledKinds: ReadonlyArray<Validator.ViolationKind> = Validator.violationKinds
  .filter((k) => k !== "StaleAnalyses")

export interface ScheduleOptions extends RepairOptions {
  /**
   * Kinds of violation each sweep repairs; the others are reported only.
   * Default `scheduledKinds`: every kind but StaleAnalyses, so a sweep
   * never starts analysis of stale posts (nor submits any job for a
   * profile that has some). Opt in with
   * `kinds: Validator.violationKinds`.
   */
  readonly kinds?: ReadonlyArray<Validator.ViolationKind> | undefined
  /**
   * Whether each sweep decodes every analysis document (see
   * ValidateOptions). Default false for a sweep: it is the costly part.
   */
  readonly documents?: boolean | undefined
  /** Whether the scheduled sweep runs. Default true. */
  readonly enabled?: boolean | undefined
  /**
   * Time between sweeps, jittered by ±20% so processes spread out; the
   * first sweep runs one interval after start. Default 1 minute.
   */
  readonly interval?: Duration.DurationInput | undefined
}

/**
 * Runs a repair sweep every interval in the current scope, until the scope
 * closes. A sweep that fails is logged and the schedule goes on.
 */
export const runSchedule = (
  options: ScheduleOptions = {}
): Effect.Effect<void, never, Repairer | Scope.Scope> =>
  Effect.gen(function* () {
    const repairer = yield* Repairer
    const interval = Duration.decode(options.interval ?? "1 minute")
    const sweep = repairer.repair({
      ...options,
      kinds: options.kinds ?? scheduledKinds,
      documents: options.documents ?? false
    }).pipe(
      Effect.tap((report) =>
        report.changed > 0
          ? Effect.logInfo("repair sweep changed the database").pipe(
            Effect.annotateLogs({
              runId: report.runId,
              violations: report.violations.length,
              changed: report.changed
            })
          )
          : Effect.logDebug("repair sweep found nothing to change").pipe(
            Effect.annotateLogs({ violations: report.violations.length })
          )
      ),
      Effect.catchAllCause((cause) => Effect.logWarning("repair sweep failed", cause))
    )
    yield* sweep.pipe(
      Effect.repeat(Schedule.spaced(interval).pipe(Schedule.jittered)),
      Effect.delay(interval),
      Effect.annotateLogs({ module: "Repairer" }),
      Effect.forkScoped
    )
  })

/**
 * A repair sweep on a schedule for the lifetime of the layer, with its own
 * Validator (at the Analyzer's version) and Repairer. Add it next to the
 * runner; `{ enabled: false }` makes it an empty layer.
 */
export const layerSchedule = (
  options: ScheduleOptions = {}
): Layer.Layer<never, never, SqlClient.SqlClient | Analyzer | JobStore> =>
  options.enabled === false
    ? Layer.empty
    : Layer.scopedDiscard(runSchedule(options)).pipe(
      Layer.provide(layer),
      Layer.provide(Validator.layer)
    )
