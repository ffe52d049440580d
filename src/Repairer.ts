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
  Clock,
  Context,
  Duration,
  Effect,
  Layer,
  Option,
  Schedule,
  Schema,
  type Scope,
  Stream
} from "effect"
import type { Analyzer } from "./Analyzer.js"
import type { JobKind } from "./Domain.js"
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
  "recounted-progress"
)
export type RepairAction = typeof RepairAction.Type

export class RepairRecord extends Schema.Class<RepairRecord>("RepairRecord")({
  /** The violations this action answers. */
  violations: Schema.Array(Validator.ViolationKind),
  action: RepairAction,
  /** skipped: the state changed since it was validated; `reason` says how. */
  outcome: Schema.Literal("applied", "skipped"),
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
  /** Kinds of violation to repair; others are reported only. Default: all. */
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
    applied: boolean,
    reason: string,
    ids: { readonly jobId?: string | null; readonly postIds?: ReadonlyArray<string> } = {}
  ) =>
    new RepairRecord({
      violations: violations.map((v) => v._tag),
      action,
      outcome: applied ? "applied" : "skipped",
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

  type JobViolation =
    | Validator.SucceededJobIncomplete
    | Validator.MissingAggregate
    | Validator.StaleAggregate
    | Validator.StaleAnalyses

  /**
   * One job for every violation of a profile that needs one: a refresh
   * analyses what is missing or stale and aggregates; a reaggregate (the
   * same program, with nothing to analyse) only aggregates.
   */
  const submitJob = (run: Run, violations: ReadonlyArray<JobViolation>) =>
    Effect.gen(function* () {
      const first = violations[0]!
      const kind: JobKind = violations.some((v) => v.repair === "RefreshProfile")
        ? "refresh"
        : "reaggregate"
      const postIds = violations.flatMap((v) =>
        v._tag === "SucceededJobIncomplete" || v._tag === "StaleAnalyses" ? v.postIds : []
      )
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

  /** Repairs the violations of one profile that are confirmed still there. */
  const repairProfile = (run: Run, violations: ReadonlyArray<Validator.Violation>) =>
    Effect.gen(function* () {
      const records: Array<RepairRecord> = []
      const needJob: Array<JobViolation> = []
      for (const v of violations) {
        switch (v._tag) {
          case "DuplicateActiveJobs":
            records.push(...(yield* cancelDuplicates(run, v)))
            break
          case "ExpiredLease":
            records.push(yield* releaseLease(run, v))
            break
          case "OrphanAnalyses":
            records.push(...(yield* deleteOrphans(run, v)))
            break
          case "ProgressMismatch":
            records.push(yield* recountProgress(run, v))
            break
          default:
            needJob.push(v)
        }
      }
      if (needJob.length > 0) records.push(yield* submitJob(run, needJob))
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
            const now = new Map(
              (yield* validator.validateProfile(profileId)).map((v) => [Validator.keyOf(v), v])
            )
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
            actions.push(...(yield* repairProfile(run, confirmed)))
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
      return "deleted-analyses"
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

export interface ScheduleOptions extends RepairOptions {
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
    const sweep = repairer.repair(options).pipe(
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
