/**
 * A health snapshot of the job queue, read from the database, with the
 * analyzer's latency from this process's metrics.
 *
 * Glossary:
 * - due: a queued job whose run-after time has passed; it waits for a
 *   runner. A queued job scheduled for later (a retry's backoff, or a
 *   submit with runAfter) is not due and does not age.
 * - stalled: a running job whose lease has expired: its runner died or is
 *   stuck. Any runner reclaims it at its next claim.
 * - window: the recent period that failures and retries are counted over.
 *
 * A snapshot is a handful of short reads, not one transaction: counts taken
 * a few milliseconds apart may disagree by a job in flight.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Context, Duration, Effect, Layer, Metric, Schema } from "effect"
import { JobKind, JobStatus } from "./Domain.js"
import type { StoreError } from "./Errors.js"
import * as Metrics from "./Metrics.js"
import { orStoreError } from "./store/StoreError.js"

const Count = Schema.NonNegativeInt

/** Jobs in the database by status. `running` includes stalled jobs. */
export class JobCounts extends Schema.Class<JobCounts>("JobCounts")({
  queued: Count,
  running: Count,
  succeeded: Count,
  failed: Count,
  cancelled: Count
}) {}

/** The due queued job that has waited longest. */
export class QueuedJob extends Schema.Class<QueuedJob>("QueuedJob")({
  jobId: Schema.String,
  profileId: Schema.String,
  kind: JobKind,
  createdAt: Schema.Date,
  /** When it became due: its run-after time. */
  dueSince: Schema.Date,
  /** Milliseconds since it became due. */
  waitingMillis: Count
}) {}

/** A running job whose lease has expired. */
export class StalledJob extends Schema.Class<StalledJob>("StalledJob")({
  jobId: Schema.String,
  profileId: Schema.String,
  kind: JobKind,
  leaseHolder: Schema.NullOr(Schema.String),
  leaseExpiredAt: Schema.NullOr(Schema.Date),
  attempt: Count
}) {}

/**
 * Jobs that finished in the window, by status, and jobs retried in it:
 * jobs on, or waiting for, a second or later attempt (after a failure or
 * an expired lease) that changed in the window. A hand back on shutdown is
 * not a retry. `failureRate` is failed / (succeeded + failed), null when
 * none finished.
 */
export class RecentActivity extends Schema.Class<RecentActivity>("RecentActivity")({
  windowMillis: Count,
  succeeded: Count,
  failed: Count,
  cancelled: Count,
  retried: Count,
  failureRate: Schema.NullOr(Schema.Number)
}) {}

/**
 * Analyzer call latency measured in this process (Metrics.
 * analyzerDurationRecent): quantiles over the last 10 minutes, in
 * milliseconds, null when this process made no call in that time (always,
 * in a process that runs no jobs, such as the CLI's health command).
 * `calls` counts every call since the process started.
 */
export class AnalyzerLatency extends Schema.Class<AnalyzerLatency>("AnalyzerLatency")({
  source: Schema.Literal("process"),
  calls: Count,
  p50Millis: Schema.NullOr(Schema.Number),
  p95Millis: Schema.NullOr(Schema.Number)
}) {}

/** The latest repair, as the repairer recorded it in pi_repairs. */
export class Repair extends Schema.Class<Repair>("Repair")({
  runId: Schema.String,
  /** Who ran the repair, as recorded (for example a schedule or a command). */
  actor: Schema.String,
  /** The invariant that was broken: the kind of the repair. */
  violation: Schema.String,
  action: Schema.String,
  profileId: Schema.NullOr(Schema.String),
  jobId: Schema.NullOr(Schema.String),
  reason: Schema.String,
  at: Schema.Date
}) {}

/**
 * Repairs of one violation in the repair window: rows recorded and the
 * distinct repair runs they came from. One run that fixes ten profiles is
 * one run; the same violation coming back run after run is what the
 * repeated-repairs alert looks for.
 */
export class RepairCount extends Schema.Class<RepairCount>("RepairCount")({
  violation: Schema.String,
  repairs: Count,
  runs: Count
}) {}

/**
 * Repairs recorded in pi_repairs. `recorded` is false while the database
 * has no such table (a schema from before the repairer); then there are no
 * repairs to report.
 */
export class RepairActivity extends Schema.Class<RepairActivity>("RepairActivity")({
  recorded: Schema.Boolean,
  last: Schema.NullOr(Repair),
  windowMillis: Count,
  recentByViolation: Schema.Array(RepairCount)
}) {}

export class HealthSnapshot extends Schema.Class<HealthSnapshot>("HealthSnapshot")({
  takenAt: Schema.Date,
  /** Queue depth: every job by status. */
  jobs: JobCounts,
  /** Queued jobs that are due now. */
  due: Count,
  oldestQueued: Schema.NullOr(QueuedJob),
  /** Running jobs with a live lease. */
  running: Count,
  stalled: Count,
  /** The stalled jobs, longest expired first, at most 20. */
  stalledJobs: Schema.Array(StalledJob),
  recent: RecentActivity,
  analyzerLatency: AnalyzerLatency,
  repairs: RepairActivity
}) {}

export interface HealthOptions {
  /** The window failures and retries are counted over. Default 10 minutes. */
  readonly window?: Duration.DurationInput | undefined
  /** The window repairs are counted over, by violation. Default 24 hours. */
  readonly repairWindow?: Duration.DurationInput | undefined
}

export interface HealthShape {
  /**
   * Takes a snapshot. Also sets the gauges of Metrics (jobs by status,
   * oldest queued age, stalled jobs), so a scrape shows the queue as of the
   * last snapshot.
   */
  readonly snapshot: Effect.Effect<HealthSnapshot, StoreError>
}

export class Health extends Context.Tag("profile-insights/Health")<
  Health,
  HealthShape
>() {}

const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
const NullableInteger = Schema.NullOr(Integer)

const CountRow = Schema.Struct({ status: JobStatus, n: Integer })
const SumsRow = Schema.Struct({ due: NullableInteger, stalled: NullableInteger })
const QueuedRow = Schema.Struct({
  id: Schema.String,
  profile_id: Schema.String,
  kind: JobKind,
  created_at: Integer,
  run_after: Integer
})
const StalledRow = Schema.Struct({
  id: Schema.String,
  profile_id: Schema.String,
  kind: JobKind,
  lease_holder: Schema.NullOr(Schema.String),
  lease_expires_at: NullableInteger,
  attempt: Integer
})
const NumberRow = Schema.Struct({ n: Integer })
const RepairRow = Schema.Struct({
  run_id: Schema.String,
  actor: Schema.String,
  violation: Schema.String,
  action: Schema.String,
  profile_id: Schema.NullOr(Schema.String),
  job_id: Schema.NullOr(Schema.String),
  reason: Schema.String,
  created_at: Integer
})
const RepairCountRow = Schema.Struct({
  violation: Schema.String,
  n: Integer,
  runs: Integer
})

const decode = <A, I>(schema: Schema.Schema<A, I>) =>
  Schema.decodeUnknown(Schema.Array(schema))

const byStatus = (rows: ReadonlyArray<typeof CountRow.Type>) => {
  const counts = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 }
  for (const row of rows) counts[row.status] += row.n
  return counts
}

/**
 * Whether `table` exists. SQLite: sqlite_master. Postgres (and others with
 * an information schema): a table of that name in the current schema.
 */
const tableExists = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql.onDialectOrElse({
      sqlite: () => sql`SELECT name FROM sqlite_master
        WHERE type = 'table' AND name = ${table}`,
      orElse: () => sql`SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name = ${table}`
    }),
    (rows) => rows.length > 0
  )

export const make = (options: HealthOptions = {}) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const window = Duration.toMillis(options.window ?? "10 minutes")
    const repairWindow = Duration.toMillis(options.repairWindow ?? "24 hours")

    const jobCounts = sql`SELECT status, COUNT(*) AS n FROM pi_jobs
      GROUP BY status`.pipe(Effect.flatMap(decode(CountRow)), Effect.map(byStatus))

    const sums = (now: number) =>
      sql`SELECT
        SUM(CASE WHEN status = 'queued' AND run_after <= ${now}
          THEN 1 ELSE 0 END) AS due,
        SUM(CASE WHEN status = 'running'
          AND (lease_expires_at IS NULL OR lease_expires_at < ${now})
          THEN 1 ELSE 0 END) AS stalled
        FROM pi_jobs WHERE status IN ('queued', 'running')`.pipe(
        Effect.flatMap(decode(SumsRow)),
        Effect.map((rows) => ({ due: rows[0]?.due ?? 0, stalled: rows[0]?.stalled ?? 0 }))
      )

    const oldestQueued = (now: number) =>
      sql`SELECT id, profile_id, kind, created_at, run_after FROM pi_jobs
        WHERE status = 'queued' AND run_after <= ${now}
        ORDER BY run_after, created_at LIMIT 1`.pipe(
        Effect.flatMap(decode(QueuedRow)),
        Effect.map((rows) => {
          const row = rows[0]
          return row === undefined ? null : new QueuedJob({
            jobId: row.id,
            profileId: row.profile_id,
            kind: row.kind,
            createdAt: new Date(row.created_at),
            dueSince: new Date(row.run_after),
            waitingMillis: Math.max(0, now - row.run_after)
          })
        })
      )

    const stalledJobs = (now: number) =>
      sql`SELECT id, profile_id, kind, lease_holder, lease_expires_at, attempt
        FROM pi_jobs WHERE status = 'running'
        AND (lease_expires_at IS NULL OR lease_expires_at < ${now})
        ORDER BY lease_expires_at, id LIMIT 20`.pipe(
        Effect.flatMap(decode(StalledRow)),
        Effect.map((rows) =>
          rows.map((row) =>
            new StalledJob({
              jobId: row.id,
              profileId: row.profile_id,
              kind: row.kind,
              leaseHolder: row.lease_holder,
              leaseExpiredAt: row.lease_expires_at === null
                ? null
                : new Date(row.lease_expires_at),
              attempt: row.attempt
            })
          )
        )
      )

    const recent = (now: number) =>
      Effect.gen(function* () {
        const since = now - window
        const finished = yield* sql`SELECT status, COUNT(*) AS n FROM pi_jobs
          WHERE finished_at >= ${since} GROUP BY status`.pipe(
          Effect.flatMap(decode(CountRow)),
          Effect.map(byStatus)
        )
        const retried = yield* sql`SELECT COUNT(*) AS n FROM pi_jobs
          WHERE updated_at >= ${since}
          AND (attempt > 1 OR (status = 'queued' AND last_error IS NOT NULL))`.pipe(
          Effect.flatMap(decode(NumberRow))
        )
        const ended = finished.succeeded + finished.failed
        return new RecentActivity({
          windowMillis: window,
          succeeded: finished.succeeded,
          failed: finished.failed,
          cancelled: finished.cancelled,
          retried: retried[0]?.n ?? 0,
          failureRate: ended === 0 ? null : finished.failed / ended
        })
      })

    const repairs = (now: number) =>
      Effect.gen(function* () {
        const none = new RepairActivity({
          recorded: false,
          last: null,
          windowMillis: repairWindow,
          recentByViolation: []
        })
        if (!(yield* tableExists(sql, "pi_repairs"))) return none
        const last = yield* sql`SELECT run_id, actor, violation, action,
          profile_id, job_id, reason, created_at FROM pi_repairs
          ORDER BY created_at DESC, id DESC LIMIT 1`.pipe(
          Effect.flatMap(decode(RepairRow))
        )
        const counts = yield* sql`SELECT violation, COUNT(*) AS n,
          COUNT(DISTINCT run_id) AS runs FROM pi_repairs
          WHERE created_at >= ${now - repairWindow}
          GROUP BY violation ORDER BY violation`.pipe(
          Effect.flatMap(decode(RepairCountRow))
        )
        const row = last[0]
        return new RepairActivity({
          recorded: true,
          last: row === undefined ? null : new Repair({
            runId: row.run_id,
            actor: row.actor,
            violation: row.violation,
            action: row.action,
            profileId: row.profile_id,
            jobId: row.job_id,
            reason: row.reason,
            at: new Date(row.created_at)
          }),
          windowMillis: repairWindow,
          recentByViolation: counts.map((c) =>
            new RepairCount({ violation: c.violation, repairs: c.n, runs: c.runs })
          )
        })
      })

    const publish = (snapshot: HealthSnapshot) =>
      Effect.all([
        Effect.forEach(
          Object.entries(snapshot.jobs),
          ([status, n]) => Metric.set(Metric.tagged(Metrics.jobs, "status", status), n),
          { discard: true }
        ),
        Metric.set(
          Metrics.oldestQueuedAge,
          (snapshot.oldestQueued?.waitingMillis ?? 0) / 1000
        ),
        Metric.set(Metrics.jobsStalled, snapshot.stalled)
      ], { discard: true })

    const snapshot = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const [jobs, { due, stalled }, oldest, stalledList, activity, repaired] =
        yield* Effect.all([
          jobCounts,
          sums(now),
          oldestQueued(now),
          stalledJobs(now),
          recent(now),
          repairs(now)
        ])
      const latency = yield* Metrics.recentAnalyzerLatency
      const result = new HealthSnapshot({
        takenAt: new Date(now),
        jobs: new JobCounts(jobs),
        due,
        oldestQueued: oldest,
        running: Math.max(0, jobs.running - stalled),
        stalled,
        stalledJobs: stalledList,
        recent: activity,
        analyzerLatency: new AnalyzerLatency({
          source: "process",
          calls: latency.calls,
          p50Millis: latency.p50,
          p95Millis: latency.p95
        }),
        repairs: repaired
      })
      yield* publish(result)
      return result
    }).pipe(orStoreError("health"), Effect.withSpan("Health.snapshot"))

    return Health.of({ snapshot })
  })

/** A Health service over the SqlClient of an adapter. */
export const layer = (
  options: HealthOptions = {}
): Layer.Layer<Health, never, SqlClient.SqlClient> =>
  Layer.effect(Health, make(options))
