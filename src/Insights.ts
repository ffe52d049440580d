/**
 * The API a host calls: import a profile, submit analysis, follow the job,
 * read the insights. No function here takes a connection, a session or a
 * transaction: the library owns its pool, and each call uses one short
 * transaction at most.
 *
 * Every read of a job or insights names the owner (the host's user id) and
 * answers NotFound for another owner's ids.
 */
import { SqlClient } from "@effect/sql"
import {
  Context,
  type Duration,
  Effect,
  Layer,
  Option,
  ParseResult,
  Schema,
  Stream
} from "effect"
import type { Analyzer } from "./Analyzer.js"
import {
  type Job,
  JobKind,
  ProfileImport,
  type ProfileInsights,
  isTerminal
} from "./Domain.js"
import { InvalidInput, NotFound, StoreError, type UnknownFormat } from "./Errors.js"
import { importProfile } from "./import/ProfileImporter.js"
import * as JobRunner from "./JobRunner.js"
import * as JobSignal from "./JobSignal.js"
import * as JobStore from "./JobStore.js"
import * as Metrics from "./Metrics.js"
import * as ProfileStore from "./ProfileStore.js"
import * as Repairer from "./Repairer.js"
import { migrate } from "./store/Migrations.js"

export interface SubmitOptions {
  /** Default "analyze". */
  readonly kind?: JobKind | undefined
  /** Higher runs first. Default 0. */
  readonly priority?: number | undefined
  /** Not before this time. Default: now. */
  readonly runAfter?: Date | undefined
  /** Claims allowed before the job fails for good. Default 5. */
  readonly maxAttempts?: number | undefined
}

export interface WatchOptions {
  /**
   * How often the job is read. Default 250 milliseconds. On Postgres a
   * notification also wakes the watcher at once.
   */
  readonly interval?: Duration.DurationInput | undefined
}

export interface InsightsShape {
  /**
   * Imports a profile export in any supported format (detected from the
   * content), or a ProfileImport, as the owner's copy of that profile. `source` names the input
   * in errors, such as a file path. Invalid input stores nothing.
   */
  readonly importProfile: (
    owner: string,
    content: unknown,
    source?: string
  ) => Effect.Effect<ProfileStore.SaveResult, InvalidInput | UnknownFormat | StoreError>
  /**
   * Records an analysis job and returns it; a runner fiber, not the
   * caller, runs it. While an active job of the same kind exists for the
   * profile, returns that one instead. Once recorded, interrupting the
   * caller does not affect the job.
   */
  readonly submit: (
    owner: string,
    profileId: string,
    options?: SubmitOptions
  ) => Effect.Effect<Job, InvalidInput | StoreError | NotFound>
  readonly status: (owner: string, jobId: string) => Effect.Effect<Job, StoreError | NotFound>
  /** The owner's most recent job for a profile. */
  readonly latestJob: (
    owner: string,
    profileId: string
  ) => Effect.Effect<Option.Option<Job>, StoreError>
  /**
   * The job each time its progress or status changes, starting with its
   * current state and ending with its terminal state.
   */
  readonly watch: (
    owner: string,
    jobId: string,
    options?: WatchOptions
  ) => Stream.Stream<Job, StoreError | NotFound>
  /** Waits for the job's terminal state. */
  readonly awaitJob: (
    owner: string,
    jobId: string,
    options?: WatchOptions
  ) => Effect.Effect<Job, StoreError | NotFound>
  readonly cancel: (owner: string, jobId: string) => Effect.Effect<Job, StoreError | NotFound>
  readonly insights: (
    owner: string,
    profileId: string
  ) => Effect.Effect<ProfileInsights, StoreError | NotFound>
}

export class Insights extends Context.Tag("profile-insights/Insights")<
  Insights,
  InsightsShape
>() {}

const SubmitOptionsInput = Schema.Struct({
  kind: Schema.optional(JobKind),
  priority: Schema.optional(Schema.Int.pipe(Schema.between(-1_000_000, 1_000_000))),
  runAfter: Schema.optional(Schema.ValidDateFromSelf),
  maxAttempts: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000)))
})

/** Options as a JavaScript caller may pass them, checked before anything is stored. */
const checkSubmitOptions = (options: unknown) =>
  Schema.decodeUnknown(SubmitOptionsInput)(options ?? {}).pipe(
    Effect.mapError((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      return new InvalidInput({
        source: "input",
        record: "submit options",
        field: issue?.path.join(".") ?? "",
        detail: issue?.message ?? error.message
      })
    })
  )

const checkOwner = (owner: string) =>
  typeof owner === "string" && owner.trim() !== ""
    ? Effect.void
    : Effect.fail(
        new InvalidInput({
          source: "input",
          record: "",
          field: "owner",
          detail: "expected a non-empty owner id"
        })
      )

const checkProfileId = (profileId: unknown) =>
  typeof profileId === "string" && profileId !== ""
    ? Effect.void
    : Effect.fail(
        new InvalidInput({
          source: "input",
          record: "",
          field: "profileId",
          detail: "expected a profile id"
        })
      )

/**
 * An id as a JavaScript caller may pass it: anything but a string names
 * nothing stored, so the read answers as for an unknown id.
 */
const isId = (id: unknown): id is string => typeof id === "string"

const unknown = (entity: NotFound["entity"], id: unknown) =>
  Effect.fail(new NotFound({ entity, id: String(id) }))

export const make = Effect.gen(function* () {
  const profiles = yield* ProfileStore.ProfileStore
  const jobs = yield* JobStore.JobStore
  const signal = yield* JobSignal.JobSignal

  const watch: InsightsShape["watch"] = (owner, jobId, options) => {
    if (!isId(jobId)) return Stream.fromEffect(unknown("job", jobId))
    const interval = options?.interval ?? "250 millis"
    return Stream.merge(Stream.tick(interval), signal.progress(jobId)).pipe(
      Stream.mapEffect(() => jobs.get(owner, jobId)),
      Stream.changesWith((a, b) =>
        a.status === b.status &&
        a.done === b.done &&
        a.failed === b.failed &&
        a.total === b.total
      ),
      Stream.takeUntil((job) => isTerminal(job.status))
    )
  }

  return Insights.of({
    importProfile: (owner, content, source = "input") =>
      checkOwner(owner).pipe(
        Effect.zipRight(
          content instanceof ProfileImport
            ? Effect.succeed(content)
            : importProfile(content, source)
        ),
        Effect.flatMap((imported) => profiles.save(owner, imported)),
        Effect.withSpan("Insights.importProfile")
      ),
    submit: (owner, profileId, input) =>
      checkOwner(owner).pipe(
        Effect.zipRight(checkProfileId(profileId)),
        Effect.zipRight(checkSubmitOptions(input)),
        Effect.flatMap((options) =>
          jobs.submit({
            owner,
            profileId,
            kind: options.kind ?? "analyze",
            priority: options.priority,
            runAfter: options.runAfter,
            maxAttempts: options.maxAttempts
          })
        ),
        Metrics.trackSubmit,
        Effect.tap(() => signal.notify),
        Effect.uninterruptible,
        Effect.withSpan("Insights.submit")
      ),
    status: (owner, jobId) => isId(jobId) ? jobs.get(owner, jobId) : unknown("job", jobId),
    latestJob: (owner, profileId) =>
      isId(profileId) ? jobs.latestFor(owner, profileId) : Effect.succeed(Option.none()),
    watch,
    awaitJob: (owner, jobId, options) =>
      watch(owner, jobId, options).pipe(
        Stream.runLast,
        Effect.flatMap(Option.match({
          onNone: () => jobs.get(owner, jobId),
          onSome: Effect.succeed
        }))
      ),
    cancel: (owner, jobId) =>
      isId(jobId)
        ? Effect.tap(jobs.cancel(owner, jobId), () => signal.notify)
        : unknown("job", jobId),
    insights: (owner, profileId) =>
      isId(profileId) ? profiles.insights(owner, profileId) : unknown("insights", profileId)
  })
})

/**
 * The stores, the in-process wake signal and migrations, over whatever
 * SqlClient the adapter provides. No runner: for processes that only
 * submit and read.
 */
export const layerWithoutRunner: Layer.Layer<
  Insights | ProfileStore.ProfileStore | JobStore.JobStore | JobSignal.JobSignal,
  StoreError,
  SqlClient.SqlClient
> = Layer.effect(Insights, make).pipe(
  Layer.provideMerge(
    Layer.mergeAll(ProfileStore.layer, JobStore.layer, JobSignal.layer)
  ),
  Layer.provideMerge(
    Layer.effectDiscard(
      migrate.pipe(Effect.mapError((cause) => new StoreError({ operation: "migrate", cause })))
    )
  )
)

export interface LayerOptions extends JobRunner.RunnerOptions {
  /**
   * The scheduled repair sweep that runs beside the runner: it finds what a
   * crash or an old version left inconsistent (a dead lease, a job stuck
   * half done, a missing aggregate, a row that does not decode) and
   * repairs it. On by default, every minute; `false` turns it off. By
   * default it only reports StaleAnalyses (posts analysed at another
   * analyzer version) and never starts their re-analysis; opt in with
   * `{ kinds: Validator.violationKinds }`, or run `repair` on demand.
   */
  readonly repair?: Repairer.ScheduleOptions | false | undefined
}

/**
 * Everything a host needs: the API, a runner that works on jobs for as
 * long as the layer lives, and the scheduled repair sweep. Needs a
 * SqlClient (from an adapter) and an Analyzer.
 */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<
  Insights | ProfileStore.ProfileStore | JobStore.JobStore | JobSignal.JobSignal,
  StoreError,
  SqlClient.SqlClient | Analyzer
> => {
  const { repair, ...runner } = options
  return Layer.mergeAll(
    JobRunner.layer(runner),
    Repairer.layerSchedule(repair === false ? { enabled: false } : repair ?? {})
  ).pipe(Layer.provideMerge(layerWithoutRunner))
}
