/**
 * The invariants of the stored data, and a validator that checks them
 * while jobs run.
 *
 * The validator reads profiles in pages ordered by id (keyset pagination).
 * Each page is read in one short read-only snapshot (Postgres: REPEATABLE
 * READ; SQLite: one read transaction), so every fact about a profile comes
 * from the same instant: a job that finishes while the validator reads is
 * seen either running or succeeded with its aggregate, never half of each.
 * The time a lease is compared with is taken before the snapshot opens,
 * so a lease seen expired had expired before anything was read.
 *
 * Glossary:
 * - active job: queued or running. A profile with an active job is work in
 *   progress: its analyses and aggregate are not checked, since that job
 *   ends by writing them.
 * - current version: the analyzer version of the Analyzer service (or the
 *   `analyzerVersion` option). A post with analyses only at other versions
 *   is stale.
 * - covered post: a post of a succeeded job's profile that has not been
 *   re-imported since the job finished (its updated_at is earlier than the
 *   job's finished_at).
 */
import { SqlClient } from "@effect/sql"
import {
  Array as Arr,
  Clock,
  Context,
  Effect,
  Either,
  Layer,
  Option,
  Order,
  ParseResult,
  Schema,
  Stream
} from "effect"
import { Analyzer } from "./Analyzer.js"
import {
  AnalysisFailure,
  AnalysisResult,
  JobKind,
  JobStatus,
  ProfileInsights
} from "./Domain.js"
import type { StoreError } from "./Errors.js"
import { orStoreError } from "./store/StoreError.js"

// ---------------------------------------------------------------------------
// Violations

/** What a violation calls for; see Repairer for how each is carried out. */
export const RepairKind = Schema.Literal(
  "RefreshProfile",
  "Reaggregate",
  "RecountProgress",
  "ReleaseLease",
  "CancelDuplicates",
  "DeleteOrphans",
  "DeleteAnalysis",
  "RebuildAggregate",
  "RecountOrCancelJob",
  "DeleteProfileRows"
)
export type RepairKind = typeof RepairKind.Type

const repairIs = <K extends RepairKind>(kind: K) =>
  Schema.optionalWith(Schema.Literal(kind), { default: () => kind })

const Count = Schema.NonNegativeInt

/** Post ids listed in a violation; its count field has the full number. */
export const MAX_LISTED_POSTS = 100

/**
 * A succeeded job's profile lacks an analysis or recorded failure (at any
 * analyzer version) for posts the job covered. Repair: a "refresh" job.
 */
export class SucceededJobIncomplete extends Schema.TaggedClass<SucceededJobIncomplete>()(
  "SucceededJobIncomplete",
  {
    profileId: Schema.String,
    owner: Schema.String,
    jobId: Schema.String,
    missing: Count,
    postIds: Schema.Array(Schema.String),
    repair: repairIs("RefreshProfile")
  }
) {}

/** A profile has a succeeded job but no aggregate. Repair: a "reaggregate" job. */
export class MissingAggregate extends Schema.TaggedClass<MissingAggregate>()(
  "MissingAggregate",
  {
    profileId: Schema.String,
    owner: Schema.String,
    jobId: Schema.String,
    repair: repairIs("Reaggregate")
  }
) {}

/**
 * A profile's aggregate does not cover its stored analyses: one is newer
 * than its watermark, or there are more than it counted. Repair: a
 * "reaggregate" job.
 */
export class StaleAggregate extends Schema.TaggedClass<StaleAggregate>()(
  "StaleAggregate",
  {
    profileId: Schema.String,
    owner: Schema.String,
    aggregateJobId: Schema.NullOr(Schema.String),
    aggregateVersion: Schema.String,
    watermark: Schema.Struct({
      analyses: Count,
      newestAnalysisAt: Schema.NullOr(Schema.Date)
    }),
    stored: Schema.Struct({
      analyses: Count,
      newestAnalysisAt: Schema.NullOr(Schema.Date)
    }),
    repair: repairIs("Reaggregate")
  }
) {}

export const Progress = Schema.Struct({ total: Count, done: Count, failed: Count })
export type Progress = typeof Progress.Type

/**
 * The counters of the succeeded job that wrote a profile's aggregate differ
 * from the stored analyses it was built from (checked only while the
 * profile has not been re-imported since). Repair: recount.
 */
export class ProgressMismatch extends Schema.TaggedClass<ProgressMismatch>()(
  "ProgressMismatch",
  {
    profileId: Schema.String,
    jobId: Schema.String,
    analyzerVersion: Schema.String,
    recorded: Progress,
    stored: Progress,
    repair: repairIs("RecountProgress")
  }
) {}

/**
 * A running job whose lease has expired, or that has none: its runner is
 * gone. Repair: back to queued with a new epoch, which fences the old
 * runner should it still be alive.
 */
export class ExpiredLease extends Schema.TaggedClass<ExpiredLease>()("ExpiredLease", {
  profileId: Schema.String,
  jobId: Schema.String,
  epoch: Count,
  leaseHolder: Schema.NullOr(Schema.String),
  leaseExpiresAt: Schema.NullOr(Schema.Date),
  repair: repairIs("ReleaseLease")
}) {}

/**
 * More than one active job of one kind for a profile. The unique index
 * pi_jobs_active makes this impossible to write; a database that lost the
 * index, or was written before it existed, can hold it. Repair: cancel
 * every job but `keepJobId`.
 */
export class DuplicateActiveJobs extends Schema.TaggedClass<DuplicateActiveJobs>()(
  "DuplicateActiveJobs",
  {
    profileId: Schema.String,
    kind: JobKind,
    keepJobId: Schema.String,
    duplicates: Schema.Array(Schema.Struct({ jobId: Schema.String, epoch: Count })),
    repair: repairIs("CancelDuplicates")
  }
) {}

/** Analyses of posts that no longer exist. Repair: delete them. */
export class OrphanAnalyses extends Schema.TaggedClass<OrphanAnalyses>()(
  "OrphanAnalyses",
  {
    profileId: Schema.String,
    analyses: Schema.Array(
      Schema.Struct({ postId: Schema.String, analyzerVersion: Schema.String })
    ),
    repair: repairIs("DeleteOrphans")
  }
) {}

/**
 * Posts analysed only at analyzer versions other than the current one.
 * Repair: a "refresh" job, which analyses exactly those posts again.
 */
export class StaleAnalyses extends Schema.TaggedClass<StaleAnalyses>()(
  "StaleAnalyses",
  {
    profileId: Schema.String,
    owner: Schema.String,
    currentVersion: Schema.String,
    posts: Count,
    postIds: Schema.Array(Schema.String),
    repair: repairIs("RefreshProfile")
  }
) {}

/** The tables whose rows the validator decodes. */
export const RowTable = Schema.Literal("pi_jobs", "pi_post_analyses", "pi_profile_insights")
export type RowTable = typeof RowTable.Type

/**
 * A row that does not decode: a job whose status, kind or counters are
 * impossible (`rowId`: the job id), an analysis whose result or failure
 * document is missing or malformed (`rowId`: the post id, with
 * `analyzerVersion`), an aggregate whose body is not ProfileInsights
 * (`rowId`: the profile id). Every reader of such a row fails, so it is
 * reported on its own and left out of the other checks. Repair by table:
 * `DeleteAnalysis` (and a "refresh" job analyses the post again),
 * `RebuildAggregate` (delete it; a "reaggregate" job computes it again),
 * `RecountOrCancelJob` (counters recounted from the stored analyses when
 * only they are wrong, else the job is cancelled with the reason).
 */
export class UndecodableRow extends Schema.TaggedClass<UndecodableRow>()(
  "UndecodableRow",
  {
    table: RowTable,
    profileId: Schema.String,
    /** null when the profile no longer exists. */
    owner: Schema.NullOr(Schema.String),
    rowId: Schema.String,
    analyzerVersion: Schema.NullOr(Schema.String),
    /** What did not decode, as the schema says it. */
    error: Schema.String,
    repair: Schema.Literal("DeleteAnalysis", "RebuildAggregate", "RecountOrCancelJob")
  }
) {}

/**
 * Jobs or an aggregate of a profile that no longer exists (its row was
 * deleted by hand). Repair: delete them.
 */
export class RowsOfMissingProfile extends Schema.TaggedClass<RowsOfMissingProfile>()(
  "RowsOfMissingProfile",
  {
    profileId: Schema.String,
    jobIds: Schema.Array(Schema.String),
    aggregate: Schema.Boolean,
    repair: repairIs("DeleteProfileRows")
  }
) {}

export const Violation = Schema.Union(
  SucceededJobIncomplete,
  MissingAggregate,
  StaleAggregate,
  ProgressMismatch,
  ExpiredLease,
  DuplicateActiveJobs,
  OrphanAnalyses,
  StaleAnalyses,
  UndecodableRow,
  RowsOfMissingProfile
)
export type Violation = typeof Violation.Type

export const ViolationKind = Schema.Literal(
  "SucceededJobIncomplete",
  "MissingAggregate",
  "StaleAggregate",
  "ProgressMismatch",
  "ExpiredLease",
  "DuplicateActiveJobs",
  "OrphanAnalyses",
  "StaleAnalyses",
  "UndecodableRow",
  "RowsOfMissingProfile"
)
export type ViolationKind = typeof ViolationKind.Type

/** Every kind, in the order the docs list them. */
export const violationKinds: ReadonlyArray<ViolationKind> = ViolationKind.literals

export interface InvolvedIds {
  readonly profileId: string
  readonly jobIds: ReadonlyArray<string>
  readonly postIds: ReadonlyArray<string>
}

/** The ids a violation involves. */
export const idsOf = (v: Violation): InvolvedIds => {
  switch (v._tag) {
    case "SucceededJobIncomplete":
      return { profileId: v.profileId, jobIds: [v.jobId], postIds: v.postIds }
    case "MissingAggregate":
      return { profileId: v.profileId, jobIds: [v.jobId], postIds: [] }
    case "StaleAggregate":
      return {
        profileId: v.profileId,
        jobIds: v.aggregateJobId === null ? [] : [v.aggregateJobId],
        postIds: []
      }
    case "ProgressMismatch":
    case "ExpiredLease":
      return { profileId: v.profileId, jobIds: [v.jobId], postIds: [] }
    case "DuplicateActiveJobs":
      return {
        profileId: v.profileId,
        jobIds: [v.keepJobId, ...v.duplicates.map((d) => d.jobId)],
        postIds: []
      }
    case "OrphanAnalyses":
      return { profileId: v.profileId, jobIds: [], postIds: v.analyses.map((a) => a.postId) }
    case "StaleAnalyses":
      return { profileId: v.profileId, jobIds: [], postIds: v.postIds }
    case "UndecodableRow":
      return {
        profileId: v.profileId,
        jobIds: v.table === "pi_jobs" ? [v.rowId] : [],
        postIds: v.table === "pi_post_analyses" ? [v.rowId] : []
      }
    case "RowsOfMissingProfile":
      return { profileId: v.profileId, jobIds: v.jobIds, postIds: [] }
  }
}

const progressText = (p: Progress) => `${p.done}+${p.failed}/${p.total}`

/** One line saying what is wrong, for people. */
export const describe = (v: Violation): string => {
  switch (v._tag) {
    case "SucceededJobIncomplete":
      return `job ${v.jobId} succeeded but ${v.missing} post(s) it covered have no analysis`
    case "MissingAggregate":
      return `job ${v.jobId} succeeded but the profile has no aggregate`
    case "StaleAggregate":
      return `the aggregate covers ${v.watermark.analyses} analyses up to ` +
        `${v.watermark.newestAnalysisAt?.toISOString() ?? "none"}; stored: ` +
        `${v.stored.analyses} up to ${v.stored.newestAnalysisAt?.toISOString() ?? "none"}`
    case "ProgressMismatch":
      return `job ${v.jobId} records ${progressText(v.recorded)} (done+failed/total); ` +
        `stored: ${progressText(v.stored)}`
    case "ExpiredLease":
      return v.leaseExpiresAt === null
        ? `job ${v.jobId} is running without a lease`
        : `job ${v.jobId} is running on a lease of ${v.leaseHolder ?? "nobody"} ` +
          `that expired at ${v.leaseExpiresAt.toISOString()}`
    case "DuplicateActiveJobs":
      return `${v.duplicates.length + 1} active ${v.kind} jobs; keeping ${v.keepJobId}`
    case "OrphanAnalyses":
      return `${v.analyses.length} analysis(es) of posts that no longer exist`
    case "StaleAnalyses":
      return `${v.posts} post(s) analysed only at versions other than ${v.currentVersion}`
    case "UndecodableRow":
      return `${v.table} row ${v.rowId}` +
        `${v.analyzerVersion === null ? "" : ` at ${v.analyzerVersion}`} does not decode: ` +
        v.error
    case "RowsOfMissingProfile":
      return `the profile no longer exists but ${v.jobIds.length} job(s)` +
        `${v.aggregate ? " and its aggregate" : ""} remain`
  }
}

/**
 * A stable identity of a violation, for telling whether a violation seen
 * earlier is still there: the kind and the ids a repair acts on.
 */
export const keyOf = (v: Violation): string => {
  switch (v._tag) {
    case "SucceededJobIncomplete":
    case "MissingAggregate":
      return `${v._tag}:${v.profileId}:${v.jobId}`
    case "ProgressMismatch":
      return `${v._tag}:${v.jobId}`
    case "ExpiredLease":
      return `${v._tag}:${v.jobId}:${v.epoch}`
    case "DuplicateActiveJobs":
      return `${v._tag}:${v.profileId}:${v.kind}`
    case "StaleAggregate":
    case "OrphanAnalyses":
    case "StaleAnalyses":
    case "RowsOfMissingProfile":
      return `${v._tag}:${v.profileId}`
    case "UndecodableRow":
      return `${v._tag}:${v.table}:${v.profileId}:${v.rowId}:${v.analyzerVersion ?? ""}`
  }
}

export class ValidationReport extends Schema.Class<ValidationReport>("ValidationReport")({
  analyzerVersion: Schema.String,
  startedAt: Schema.Date,
  finishedAt: Schema.Date,
  /** Profiles read. */
  profiles: Count,
  /** Pages read, each in its own short snapshot. */
  pages: Count,
  violations: Schema.Array(Violation)
}) {
  get clean(): boolean {
    return this.violations.length === 0
  }

  /** Violations by kind, every kind present. */
  get counts(): Record<ViolationKind, number> {
    const counts = Object.fromEntries(violationKinds.map((k) => [k, 0])) as Record<
      ViolationKind,
      number
    >
    for (const v of this.violations) counts[v._tag]++
    return counts
  }
}

// ---------------------------------------------------------------------------
// The service

export interface ValidateOptions {
  /** Profiles read per page, each page in one short snapshot. Default 100. */
  readonly pageSize?: number | undefined
  /**
   * Decode every analysis's result or failure document, reporting those
   * that do not decode as UndecodableRow. Default true; it costs some
   * twenty times the other checks (on SQLite, time the process's event
   * loop is held), so the scheduled sweep passes false unless its options
   * say otherwise. validateProfile always reads them.
   */
  readonly documents?: boolean | undefined
}

/** The violations of one page of profiles. */
export interface Page {
  readonly profiles: number
  readonly violations: ReadonlyArray<Violation>
}

export interface ValidatorShape {
  /** The analyzer version analyses are expected at. */
  readonly analyzerVersion: string
  /** Checks every invariant over the whole database. */
  readonly validate: (options?: ValidateOptions) => Effect.Effect<ValidationReport, StoreError>
  /** The same checks page by page, for callers that act on each page. */
  readonly pages: (options?: ValidateOptions) => Stream.Stream<Page, StoreError>
  /**
   * The violations of one profile now (also those of its jobs and
   * analyses when the profile itself no longer exists).
   */
  readonly validateProfile: (
    profileId: string
  ) => Effect.Effect<ReadonlyArray<Violation>, StoreError>
}

export class Validator extends Context.Tag("profile-insights/Validator")<
  Validator,
  ValidatorShape
>() {}

// ---------------------------------------------------------------------------
// Rows of one page

const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
const NullableInteger = Schema.NullOr(Integer)

const ProfileRow = Schema.Struct({ id: Schema.String, owner: Schema.String })
const Counter = Integer.pipe(Schema.int(), Schema.nonNegative())

/** A job as its readers need it: every field a possible value. */
export const JobRow = Schema.Struct({
  id: Schema.String,
  kind: JobKind,
  profile_id: Schema.String,
  status: JobStatus,
  done: Counter,
  failed: Counter,
  total: Counter,
  epoch: Counter,
  lease_holder: Schema.NullOr(Schema.String),
  lease_expires_at: NullableInteger,
  created_at: Integer,
  finished_at: NullableInteger
}).pipe(
  Schema.filter((j) =>
    j.done + j.failed <= j.total ||
    `done + failed (${j.done} + ${j.failed}) exceeds total (${j.total})`
  )
)
/** Any job row, to name it when it does not decode. */
const RawJobRow = Schema.Struct({ id: Schema.String, profile_id: Schema.String })
export const AggregateRow = Schema.Struct({
  profile_id: Schema.String,
  analyzer_version: Schema.String,
  job_id: Schema.NullOr(Schema.String),
  watermark_count: Counter,
  watermark_at: NullableInteger,
  body: Schema.parseJson(ProfileInsights)
})
const RawAggregateRow = Schema.Struct({ profile_id: Schema.String })
/** An analysis as the aggregate reads it: its result or failure decoded. */
export const AnalysisRow = Schema.Union(
  Schema.Struct({ status: Schema.Literal("analysed"), result: Schema.parseJson(AnalysisResult) }),
  Schema.Struct({ status: Schema.Literal("failed"), failure: Schema.parseJson(AnalysisFailure) })
)
const RawAnalysisRow = Schema.Struct({
  profile_id: Schema.String,
  post_id: Schema.String,
  analyzer_version: Schema.String
})
const MissingProfileJobRow = Schema.Struct({ id: Schema.String, profile_id: Schema.String })
const PostStatsRow = Schema.Struct({
  profile_id: Schema.String,
  posts: Integer,
  updated_at: NullableInteger
})
const AnalysisStatsRow = Schema.Struct({
  profile_id: Schema.String,
  analyzer_version: Schema.String,
  status: Schema.String,
  /** 1: analyses of no post of their profile. */
  orphan: Integer,
  n: Integer,
  newest: NullableInteger
})
const OrphanRow = Schema.Struct({
  profile_id: Schema.String,
  post_id: Schema.String,
  analyzer_version: Schema.String
})
const UncoveredRow = Schema.Struct({
  profile_id: Schema.String,
  id: Schema.String,
  updated_at: Integer,
  older: Integer
})

const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknown(Schema.Array(schema))

const byProfileThenPost = Order.combine(
  Order.mapInput(Order.string, (r: typeof UncoveredRow.Type) => r.profile_id),
  Order.mapInput(Order.string, (r: typeof UncoveredRow.Type) => r.id)
)

type JobFacts = typeof JobRow.Type
type AggregateFacts = Omit<typeof AggregateRow.Type, "body">
type AnalysisStats = typeof AnalysisStatsRow.Type

interface Undecodable {
  readonly table: RowTable
  readonly rowId: string
  readonly analyzerVersion: string | null
  readonly error: string
}

const repairOfTable = {
  pi_jobs: "RecountOrCancelJob",
  pi_post_analyses: "DeleteAnalysis",
  pi_profile_insights: "RebuildAggregate"
} as const satisfies Record<RowTable, UndecodableRow["repair"]>

/** Longest decode error kept in a violation. */
const MAX_ERROR_LENGTH = 1000

/** Each issue as "path: message", for people and logs. */
const errorText = (error: ParseResult.ParseError) =>
  Arr.dedupe(
    ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
      `${issue.path.length === 0 ? "row" : issue.path.join(".")}: ${issue.message}`
    )
  ).join("; ").slice(0, MAX_ERROR_LENGTH)

/**
 * Decodes each row on its own: the rows that decode, and for each one that
 * does not, its raw form (decoded with `raw`, which every stored row
 * satisfies) and the error.
 */
const decodeEach = <A, I, R>(
  schema: Schema.Schema<A, I>,
  raw: Schema.Schema<R, any>,
  rows: ReadonlyArray<unknown>
) => {
  const decodeRow = Schema.decodeUnknownEither(schema)
  const decodeRaw = Schema.decodeUnknownEither(raw)
  const ok: Array<A> = []
  const bad: Array<{ readonly row: R; readonly error: string }> = []
  for (const row of rows) {
    const decoded = decodeRow(row)
    if (Either.isRight(decoded)) {
      ok.push(decoded.right)
      continue
    }
    const named = decodeRaw(row)
    if (Either.isRight(named)) bad.push({ row: named.right, error: errorText(decoded.left) })
  }
  return { ok, bad }
}

/** Everything the checks know about one profile id, from one snapshot. */
interface ProfileFacts {
  readonly profileId: string
  /** null: no such profile (its jobs or analyses outlived it). */
  owner: string | null
  readonly jobs: Array<JobFacts>
  aggregate: AggregateFacts | null
  /** Rows that do not decode; left out of every other fact. */
  readonly undecodable: Array<Undecodable>
  /** Jobs of the profile, read only when the profile no longer exists. */
  readonly jobsWithoutProfile: Array<string>
  /** An aggregate row exists, decodable or not. */
  aggregatePresent: boolean
  posts: number
  postsUpdatedAt: number | null
  readonly analyses: Array<AnalysisStats>
  readonly orphans: Array<{ readonly postId: string; readonly analyzerVersion: string }>
  readonly uncovered: Array<{
    readonly postId: string
    readonly updatedAt: number
    /** Analysed at another version: stale. */
    readonly older: boolean
  }>
}

/** Which profile ids a page covers: a keyset range, or one id. */
type Scope =
  | { readonly _tag: "Range"; readonly after: string | null; readonly upTo: string | null }
  | { readonly _tag: "One"; readonly id: string }

// ---------------------------------------------------------------------------
// The checks: a pure function of one snapshot

const isActive = (job: JobFacts) => job.status === "queued" || job.status === "running"

const leaseLive = (job: JobFacts, now: number) =>
  job.lease_expires_at !== null && job.lease_expires_at >= now

/** The job to keep of duplicates: one running on a live lease, else the oldest. */
const keeper = (group: ReadonlyArray<JobFacts>, now: number): JobFacts =>
  [...group].sort((a, b) => {
    const live = Number(leaseLive(b, now) && b.status === "running") -
      Number(leaseLive(a, now) && a.status === "running")
    return live || a.created_at - b.created_at || a.id.localeCompare(b.id)
  })[0]!

const maxOf = (xs: ReadonlyArray<number | null>): number | null =>
  xs.reduce<number | null>((m, x) => (x !== null && (m === null || x > m) ? x : m), null)

const date = (ms: number | null) => (ms === null ? null : new Date(ms))

const check = (
  facts: ProfileFacts,
  now: number,
  version: string
): Array<Violation> => {
  const violations: Array<Violation> = []
  const profileId = facts.profileId
  const owner = facts.owner
  if (owner === null) {
    // A profile that no longer exists: every row of it goes, decodable or not.
    if (facts.orphans.length > 0) {
      violations.push(new OrphanAnalyses({ profileId, analyses: facts.orphans }))
    }
    if (facts.jobsWithoutProfile.length > 0 || facts.aggregatePresent) {
      violations.push(new RowsOfMissingProfile({
        profileId,
        jobIds: facts.jobsWithoutProfile,
        aggregate: facts.aggregatePresent
      }))
    }
    return violations
  }
  for (const row of facts.undecodable) {
    violations.push(new UndecodableRow({
      ...row,
      profileId,
      owner,
      repair: repairOfTable[row.table]
    }))
  }
  const active = facts.jobs.filter(isActive)

  const cancelled = new Set<string>()
  for (const [kind, group] of Object.entries(Arr.groupBy(active, (j) => j.kind))) {
    if (group.length < 2) continue
    const keep = keeper(group, now)
    const duplicates = group.filter((j) => j.id !== keep.id)
    for (const d of duplicates) cancelled.add(d.id)
    violations.push(new DuplicateActiveJobs({
      profileId,
      kind: kind as JobKind,
      keepJobId: keep.id,
      duplicates: duplicates.map((d) => ({ jobId: d.id, epoch: d.epoch }))
    }))
  }
  for (const job of active) {
    if (job.status !== "running" || cancelled.has(job.id) || leaseLive(job, now)) continue
    violations.push(new ExpiredLease({
      profileId,
      jobId: job.id,
      epoch: job.epoch,
      leaseHolder: job.lease_holder,
      leaseExpiresAt: date(job.lease_expires_at)
    }))
  }
  if (facts.orphans.length > 0) {
    violations.push(new OrphanAnalyses({ profileId, analyses: facts.orphans }))
  }
  // Work in progress: nothing more to expect of its analyses and aggregate.
  if (active.length > 0) return violations

  const succeeded = facts.jobs.find((j) => j.status === "succeeded")
  const aggregate = facts.aggregate
  let aggregateOk = true
  if (succeeded !== undefined) {
    const finishedAt = succeeded.finished_at ?? 0
    const missing = facts.uncovered.filter((p) => !p.older && p.updatedAt < finishedAt)
    if (missing.length > 0) {
      aggregateOk = false
      violations.push(new SucceededJobIncomplete({
        profileId,
        owner,
        jobId: succeeded.id,
        missing: missing.length,
        postIds: missing.slice(0, MAX_LISTED_POSTS).map((p) => p.postId)
      }))
    }
    if (aggregate === null && !facts.aggregatePresent) {
      aggregateOk = false
      violations.push(new MissingAggregate({ profileId, owner, jobId: succeeded.id }))
    }
  }
  const stale = facts.uncovered.filter((p) => p.older)
  if (stale.length > 0) {
    violations.push(new StaleAnalyses({
      profileId,
      owner,
      currentVersion: version,
      posts: stale.length,
      postIds: stale.slice(0, MAX_LISTED_POSTS).map((p) => p.postId)
    }))
  }
  if (aggregate === null) return violations

  const atAggregate = facts.analyses.filter(
    (a) => a.analyzer_version === aggregate.analyzer_version
  )
  const storedCount = atAggregate.reduce((n, a) => n + a.n, 0)
  const newest = maxOf(
    facts.analyses
      .filter((a) =>
        a.analyzer_version === aggregate.analyzer_version || a.analyzer_version === version
      )
      .map((a) => a.newest)
  )
  const older = newest !== null &&
    (aggregate.watermark_at === null || newest > aggregate.watermark_at)
  if (older || storedCount > aggregate.watermark_count) {
    violations.push(new StaleAggregate({
      profileId,
      owner,
      aggregateJobId: aggregate.job_id,
      aggregateVersion: aggregate.analyzer_version,
      watermark: {
        analyses: aggregate.watermark_count,
        newestAnalysisAt: date(aggregate.watermark_at)
      },
      stored: { analyses: storedCount, newestAnalysisAt: date(newest) }
    }))
    return violations
  }
  if (
    aggregateOk &&
    succeeded !== undefined &&
    aggregate.job_id === succeeded.id &&
    (facts.postsUpdatedAt === null || facts.postsUpdatedAt < (succeeded.finished_at ?? 0))
  ) {
    const count = (status: string) =>
      atAggregate.filter((a) => a.status === status).reduce((n, a) => n + a.n, 0)
    const stored = { total: facts.posts, done: count("analysed"), failed: count("failed") }
    const recorded = { total: succeeded.total, done: succeeded.done, failed: succeeded.failed }
    if (
      stored.total !== recorded.total ||
      stored.done !== recorded.done ||
      stored.failed !== recorded.failed
    ) {
      violations.push(new ProgressMismatch({
        profileId,
        jobId: succeeded.id,
        analyzerVersion: aggregate.analyzer_version,
        recorded,
        stored
      }))
    }
  }
  return violations
}

// ---------------------------------------------------------------------------
// Reading

/**
 * Lets timers and I/O of the process run between pages. SQLite's driver is
 * synchronous, so without it a sweep over many pages would hold the event
 * loop, and the heartbeats of the runner's jobs with it. A real macrotask,
 * not the test clock.
 */
const breathe = Effect.promise(
  () => new Promise<void>((resolve) => setTimeout(resolve, 0))
)

const DEFAULT_PAGE_SIZE = 100

/** A validator expecting analyses at `version`. */
export const makeWithVersion = (version: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * One read-only snapshot. Postgres: REPEATABLE READ, so every statement
     * sees the same instant (its default, READ COMMITTED, would not).
     * SQLite: a read transaction sees one instant already.
     */
    const snapshot = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      sql.withTransaction(
        Effect.zipRight(
          sql.onDialectOrElse({
            pg: () =>
              Effect.asVoid(sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`),
            orElse: () => Effect.void
          }),
          effect
        )
      )

    const within = (column: string, scope: Scope) => {
      const c = sql.literal(column)
      if (scope._tag === "One") return sql`${c} = ${scope.id}`
      return sql.and([
        ...(scope.after === null ? [] : [sql`${c} > ${scope.after}`]),
        ...(scope.upTo === null ? [] : [sql`${c} <= ${scope.upTo}`])
      ])
    }

    const readProfiles = (scope: Scope, pageSize: number) =>
      scope._tag === "One"
        ? sql`SELECT id, owner FROM pi_profiles WHERE id = ${scope.id}`
        : sql`SELECT id, owner FROM pi_profiles
            WHERE ${within("id", scope)} ORDER BY id LIMIT ${pageSize}`

    /** Every fact of the profile ids in `scope`, read in the current transaction. */
    const readFacts = (scope: Scope, documents: boolean) =>
      Effect.gen(function* () {
        // Every row read is decoded on its own: a row that does not decode
        // is reported, never a failure of the page.
        const activeOrLatest = yield* sql`SELECT id, kind, profile_id, status, done, failed,
          total, epoch, lease_holder, lease_expires_at, created_at, finished_at
          FROM pi_jobs j WHERE ${within("j.profile_id", scope)}
          AND (j.status IN ('queued', 'running') OR (j.status = 'succeeded'
            AND NOT EXISTS (SELECT 1 FROM pi_jobs k
              WHERE k.profile_id = j.profile_id AND k.status = 'succeeded'
              AND (k.finished_at > j.finished_at
                OR (k.finished_at = j.finished_at AND k.id > j.id)))))`
        // Jobs no reader can decode, whatever their status: only these rows.
        const suspect = yield* sql`SELECT id, kind, profile_id, status, done, failed,
          total, epoch, lease_holder, lease_expires_at, created_at, finished_at
          FROM pi_jobs WHERE ${within("profile_id", scope)}
          AND (status NOT IN ${sql.in(JobStatus.literals)}
            OR kind NOT IN ${sql.in(JobKind.literals)}
            OR done < 0 OR failed < 0 OR total < 0 OR epoch < 0
            OR done + failed > total)`
        const jobs = decodeEach(JobRow, RawJobRow, activeOrLatest)
        const seen = new Set(jobs.bad.map((b) => b.row.id))
        const badJobs = [
          ...jobs.bad,
          ...decodeEach(JobRow, RawJobRow, suspect).bad.filter((b) => !seen.has(b.row.id))
        ]
        const missingProfileJobs = yield* sql`SELECT j.id, j.profile_id FROM pi_jobs j
          WHERE ${within("j.profile_id", scope)}
          AND NOT EXISTS (SELECT 1 FROM pi_profiles p WHERE p.id = j.profile_id)
          ORDER BY j.id`.pipe(Effect.flatMap(decode(MissingProfileJobRow)))
        const aggregates = decodeEach(
          AggregateRow,
          RawAggregateRow,
          yield* sql`SELECT profile_id, analyzer_version, job_id, watermark_count,
            watermark_at, body FROM pi_profile_insights
            WHERE ${within("profile_id", scope)}`
        )
        const aggregatesPresent = [
          ...aggregates.ok.map((a) => a.profile_id),
          ...aggregates.bad.map((b) => b.row.profile_id)
        ]
        // Result and failure documents of the analyses of existing posts
        // (those of missing posts are orphans, deleted whole), unless told
        // not to: reading every document costs some twenty times the rest
        // of the checks, so the scheduled sweep leaves them out.
        const badAnalyses = !documents ? [] : decodeEach(
          AnalysisRow,
          RawAnalysisRow,
          yield* sql`SELECT a.profile_id, a.post_id, a.analyzer_version, a.status,
            a.result, a.failure FROM pi_post_analyses a JOIN pi_posts p
              ON p.id = a.post_id AND p.profile_id = a.profile_id
              AND ${within("p.profile_id", scope)}
            WHERE ${within("a.profile_id", scope)}
            ORDER BY a.profile_id, a.post_id, a.analyzer_version`
        ).bad
        const posts = yield* sql`SELECT profile_id, COUNT(*) AS posts,
          MAX(updated_at) AS updated_at FROM pi_posts
          WHERE ${within("profile_id", scope)} GROUP BY profile_id`.pipe(
          Effect.flatMap(decode(PostStatsRow))
        )
        // An analysis counts for the post of its own profile only. Both
        // sides of each join are held to the page's range: a join the
        // planner may answer with a scan of the other table stays a scan
        // of the page, not of the database.
        const analyses = yield* sql`SELECT a.profile_id, a.analyzer_version, a.status,
          CASE WHEN p.id IS NULL THEN 1 ELSE 0 END AS orphan,
          COUNT(*) AS n, MAX(a.analyzed_at) AS newest
          FROM pi_post_analyses a LEFT JOIN pi_posts p
            ON p.id = a.post_id AND p.profile_id = a.profile_id
            AND ${within("p.profile_id", scope)}
          WHERE ${within("a.profile_id", scope)}
          GROUP BY a.profile_id, a.analyzer_version, a.status,
            CASE WHEN p.id IS NULL THEN 1 ELSE 0 END`.pipe(
          Effect.flatMap(decode(AnalysisStatsRow))
        )
        const orphans = analyses.some((a) => a.orphan !== 0)
          ? yield* sql`SELECT a.profile_id, a.post_id, a.analyzer_version
            FROM pi_post_analyses a LEFT JOIN pi_posts p
              ON p.id = a.post_id AND p.profile_id = a.profile_id
              AND ${within("p.profile_id", scope)}
            WHERE ${within("a.profile_id", scope)} AND p.id IS NULL
            ORDER BY a.profile_id, a.post_id, a.analyzer_version`.pipe(
            Effect.flatMap(decode(OrphanRow))
          )
          : []
        // Posts without an analysis at the current version (`older` when
        // they have one at another: stale), listed only for the profiles
        // whose counts say they have some: none, on a healthy database.
        // `|| ''` keeps SQLite's planner on the primary key (post_id) for
        // `older`: on the profile index it would scan every analysis of
        // the profile once per post, quadratic in a profile's size (a
        // 40,000-post profile mid-run took tens of seconds).
        const current = new Map<string, number>()
        for (const a of analyses) {
          if (a.orphan === 0 && a.analyzer_version === version) {
            current.set(a.profile_id, (current.get(a.profile_id) ?? 0) + a.n)
          }
        }
        const lacking = posts
          .filter((p) => p.posts > (current.get(p.profile_id) ?? 0))
          .map((p) => p.profile_id)
        const uncovered = lacking.length === 0
          ? []
          : yield* sql`SELECT p.profile_id, p.id, p.updated_at,
            CASE WHEN EXISTS (SELECT 1 FROM pi_post_analyses o
              WHERE o.post_id = p.id AND (o.profile_id || '') = p.profile_id)
              THEN 1 ELSE 0 END AS older
            FROM pi_posts p WHERE ${sql.in("p.profile_id", lacking)}
            AND NOT EXISTS (SELECT 1 FROM pi_post_analyses a
              WHERE a.post_id = p.id AND a.analyzer_version = ${version}
              AND a.profile_id = p.profile_id)`.pipe(
            Effect.flatMap(decode(UncoveredRow)),
            Effect.map(Arr.sort(byProfileThenPost))
          )
        const undecodable: Array<{ profileId: string; row: Undecodable }> = [
          ...badJobs.map((b) => ({
            profileId: b.row.profile_id,
            row: {
              table: "pi_jobs" as const,
              rowId: b.row.id,
              analyzerVersion: null,
              error: b.error
            }
          })),
          ...aggregates.bad.map((b) => ({
            profileId: b.row.profile_id,
            row: {
              table: "pi_profile_insights" as const,
              rowId: b.row.profile_id,
              analyzerVersion: null,
              error: b.error
            }
          })),
          ...badAnalyses.map((b) => ({
            profileId: b.row.profile_id,
            row: {
              table: "pi_post_analyses" as const,
              rowId: b.row.post_id,
              analyzerVersion: b.row.analyzer_version,
              error: b.error
            }
          }))
        ]
        return {
          jobs: jobs.ok,
          aggregates: aggregates.ok,
          aggregatesPresent,
          missingProfileJobs,
          undecodable,
          posts,
          analyses,
          orphans,
          uncovered
        }
      })

    const collect = (
      profiles: ReadonlyArray<typeof ProfileRow.Type>,
      read: Effect.Effect.Success<ReturnType<typeof readFacts>>
    ): Array<ProfileFacts> => {
      const byId = new Map<string, ProfileFacts>()
      const of = (profileId: string) => {
        let facts = byId.get(profileId)
        if (facts === undefined) {
          facts = {
            profileId,
            owner: null,
            jobs: [],
            aggregate: null,
            undecodable: [],
            jobsWithoutProfile: [],
            aggregatePresent: false,
            posts: 0,
            postsUpdatedAt: null,
            analyses: [],
            orphans: [],
            uncovered: []
          }
          byId.set(profileId, facts)
        }
        return facts
      }
      for (const p of profiles) of(p.id).owner = p.owner
      for (const j of read.jobs) of(j.profile_id).jobs.push(j)
      for (const a of read.aggregates) of(a.profile_id).aggregate = a
      for (const id of read.aggregatesPresent) of(id).aggregatePresent = true
      for (const u of read.undecodable) of(u.profileId).undecodable.push(u.row)
      for (const j of read.missingProfileJobs) of(j.profile_id).jobsWithoutProfile.push(j.id)
      for (const p of read.posts) {
        const facts = of(p.profile_id)
        facts.posts = p.posts
        facts.postsUpdatedAt = p.updated_at
      }
      for (const a of read.analyses) {
        if (a.orphan === 0) of(a.profile_id).analyses.push(a)
      }
      for (const o of read.orphans) {
        of(o.profile_id).orphans.push({ postId: o.post_id, analyzerVersion: o.analyzer_version })
      }
      for (const u of read.uncovered) {
        of(u.profile_id).uncovered.push({
          postId: u.id,
          updatedAt: u.updated_at,
          older: u.older !== 0
        })
      }
      return [...byId.values()].sort((a, b) => (a.profileId < b.profileId ? -1 : 1))
    }

    const checkAll = (facts: ReadonlyArray<ProfileFacts>, now: number) =>
      facts.flatMap((f) => check(f, now, version))

    /** One page after `cursor`: its violations and the next cursor, if any. */
    const page = (cursor: string | null, pageSize: number, documents: boolean) =>
      Effect.gen(function* () {
        // Taken before the snapshot: a lease that looks expired in it had
        // expired before anything was read.
        const now = yield* Clock.currentTimeMillis
        return yield* snapshot(
          Effect.gen(function* () {
            const profiles = yield* readProfiles(
              { _tag: "Range", after: cursor, upTo: null },
              pageSize
            ).pipe(Effect.flatMap(decode(ProfileRow)))
            // The last page reaches to the end of the id space, so jobs and
            // analyses of deleted profiles past the last profile are read.
            const last = profiles.length < pageSize ? null : profiles[profiles.length - 1]!.id
            const read = yield* readFacts({ _tag: "Range", after: cursor, upTo: last }, documents)
            return {
              profiles: profiles.length,
              violations: checkAll(collect(profiles, read), now),
              next: last
            }
          })
        )
      })

    const pages: ValidatorShape["pages"] = (opts) => {
      const pageSize = Math.max(1, Math.floor(opts?.pageSize ?? DEFAULT_PAGE_SIZE))
      return Stream.paginateEffect(null as string | null, (cursor) =>
        page(cursor, pageSize, opts?.documents ?? true).pipe(
          Effect.zipLeft(breathe),
          Effect.map((p) => [
            { profiles: p.profiles, violations: p.violations } satisfies Page,
            Option.fromNullable(p.next)
          ] as const),
          orStoreError("validate")
        )
      )
    }

    const validate: ValidatorShape["validate"] = (opts) =>
      Effect.gen(function* () {
        const startedAt = yield* Clock.currentTimeMillis
        const summary = yield* Stream.runFold(
          pages(opts),
          { profiles: 0, pages: 0, violations: [] as Array<Violation> },
          (acc, p) => {
            acc.profiles += p.profiles
            acc.pages += 1
            for (const v of p.violations) acc.violations.push(v)
            return acc
          }
        )
        const finishedAt = yield* Clock.currentTimeMillis
        return new ValidationReport({
          analyzerVersion: version,
          startedAt: new Date(startedAt),
          finishedAt: new Date(finishedAt),
          ...summary
        })
      }).pipe(Effect.withSpan("Validator.validate"))

    const validateProfile: ValidatorShape["validateProfile"] = (profileId) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        return yield* snapshot(
          Effect.gen(function* () {
            const scope: Scope = { _tag: "One", id: profileId }
            const profiles = yield* readProfiles(scope, 1).pipe(
              Effect.flatMap(decode(ProfileRow))
            )
            const read = yield* readFacts(scope, true)
            return checkAll(collect(profiles, read), now)
          })
        )
      }).pipe(orStoreError("validateProfile"))

    return Validator.of({ analyzerVersion: version, validate, pages, validateProfile })
  })

/** A validator expecting analyses at the Analyzer service's version. */
export const make = Effect.flatMap(Analyzer, (analyzer) => makeWithVersion(analyzer.version))

/** The validator, checking against the Analyzer service's version. */
export const layer: Layer.Layer<Validator, never, SqlClient.SqlClient | Analyzer> =
  Layer.effect(Validator, make)

/** The validator, checking against a given analyzer version. */
export const layerWithVersion = (
  analyzerVersion: string
): Layer.Layer<Validator, never, SqlClient.SqlClient> =>
  Layer.effect(Validator, makeWithVersion(analyzerVersion))
