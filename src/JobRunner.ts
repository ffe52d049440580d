/**
 * The job runner: fibers of the library's own that claim due jobs and run
 * them. They live in the runner layer's scope, never in a caller's, so a
 * request that submitted a job can end, fail or be interrupted without
 * touching the job.
 *
 * While a job runs, a heartbeat extends its lease. A runner whose lease
 * was lost (another runner reclaimed the job, or the owner cancelled it)
 * stops, and its writes are refused by the epoch fence. Closing the scope
 * stops claiming, lets in-flight checkpoints commit, and hands unfinished
 * jobs back at once.
 */
import { Cause, Clock, Duration, Effect, FiberSet, Layer, Metric, Option, Schedule } from "effect"
import { type AnalyzeSettings, analyzeProfile, defaultAnalyzeSettings } from "./AnalyzeProfile.js"
import type { Analyzer } from "./Analyzer.js"
import type { Job } from "./Domain.js"
import { AnalyzerError, LeaseLost } from "./Errors.js"
import { JobSignal } from "./JobSignal.js"
import { JobStore, type Lease } from "./JobStore.js"
import * as Metrics from "./Metrics.js"
import type { ProfileStore } from "./ProfileStore.js"

export interface RunnerOptions extends Partial<AnalyzeSettings> {
  /** Names this runner in leases and logs. Default: a random id. */
  readonly runnerId?: string | undefined
  /** Jobs this runner works on at once. Default 2. */
  readonly jobConcurrency?: number | undefined
  /** How often an idle runner looks for due jobs. Default 1 second. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** How long a claim holds without a heartbeat. Default 15 seconds. */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /** Heartbeat period. Default: a third of the lease. */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /**
   * First delay before a failed job runs again; doubles per attempt, capped
   * at an hour. A job whose analyzer's service failed waits at least as
   * long as the service asked (`retryAfterMillis`). Default 1 second.
   */
  readonly retryBase?: Duration.DurationInput | undefined
}

interface Settings extends AnalyzeSettings {
  readonly runnerId: string
  readonly jobConcurrency: number
  readonly pollInterval: Duration.Duration
  readonly leaseMillis: number
  readonly heartbeatInterval: Duration.Duration
  readonly retryBase: Duration.Duration
}

const resolve = (options: RunnerOptions): Settings => {
  const lease = Duration.decode(options.leaseDuration ?? "15 seconds")
  return {
    ...defaultAnalyzeSettings,
    ...Object.fromEntries(
      Object.entries(options).filter(([, v]) => v !== undefined)
    ),
    runnerId: options.runnerId ?? `runner-${crypto.randomUUID().slice(0, 8)}`,
    jobConcurrency: options.jobConcurrency ?? 2,
    pollInterval: Duration.decode(options.pollInterval ?? "1 second"),
    leaseMillis: Duration.toMillis(lease),
    heartbeatInterval: Duration.decode(
      options.heartbeatInterval ?? Duration.divide(lease, 3).pipe(Option.getOrElse(() => lease))
    ),
    retryBase: Duration.decode(options.retryBase ?? "1 second")
  }
}

/** Delay before attempt `attempt + 1`: exponential, capped at an hour, jittered. */
const backoff = (base: Duration.Duration, attempt: number): number => {
  const exp = Duration.toMillis(base) * 2 ** Math.max(0, attempt - 1)
  return Math.min(exp, 3_600_000) * (0.8 + Math.random() * 0.4)
}

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

const runJob = (job: Job, settings: Settings) =>
  Effect.gen(function* () {
    const jobs = yield* JobStore
    const lease: Lease = { jobId: job.id, epoch: job.epoch }

    if (job.attempt > job.maxAttempts) {
      const cause = job.lastError ?? "lease expired"
      yield* jobs.fail(lease, `gave up after ${job.maxAttempts} attempts: ${cause}`)
      yield* Metric.increment(Metrics.jobsFailed)
      yield* Effect.logWarning("job failed: attempts exhausted")
      return
    }
    yield* Effect.logInfo("job claimed")

    const heartbeat = jobs.heartbeat(lease, settings.leaseMillis).pipe(
      Effect.retry({ times: 2, schedule: Schedule.spaced("200 millis") }),
      Effect.catchTag("StoreError", () => Effect.void),
      Effect.repeat(Schedule.spaced(settings.heartbeatInterval)),
      Effect.delay(settings.heartbeatInterval),
      Effect.zipRight(Effect.never)
    )
    const exit = yield* analyzeProfile(job, settings).pipe(
      Effect.raceFirst(heartbeat),
      Effect.onInterrupt(() =>
        jobs.handBack(lease).pipe(
          Effect.zipRight(Metric.increment(Metrics.jobsHandedBack)),
          Effect.zipRight(Effect.logInfo("job handed back")),
          Effect.catchTag("LeaseLost", () =>
            Effect.logInfo("job no longer held; nothing to hand back")
          ),
          Effect.catchAll((e) => Effect.logWarning("hand back failed", e))
        )
      ),
      Effect.sandbox,
      Effect.either
    )
    if (exit._tag === "Right") {
      yield* Effect.logInfo("job succeeded")
      return
    }
    const cause = exit.left
    if (Cause.isInterruptedOnly(cause)) return
    const error = Option.getOrNull(Cause.failureOption(cause))
    if (error instanceof LeaseLost) {
      yield* Effect.logWarning("lease lost; stopped working on the job")
      return
    }
    const analyzer = error instanceof AnalyzerError ? error : null
    const reason = error === null
      ? Cause.pretty(cause)
      : analyzer !== null
      ? `the analyzer's service failed on attempt ${job.attempt} of ` +
        `${job.maxAttempts}: ${analyzer.message}`
      : describe(error)
    const permanent = error !== null && error._tag === "NotFound"
    if (permanent || job.attempt >= job.maxAttempts) {
      yield* jobs.fail(lease, reason)
      yield* Metric.increment(Metrics.jobsFailed)
      yield* Effect.logWarning("job failed", reason)
      return
    }
    const now = yield* Clock.currentTimeMillis
    // Not before the analyzer's service said it would take calls again.
    const wait = Math.max(
      backoff(settings.retryBase, job.attempt),
      analyzer?.retryAfterMillis ?? 0
    )
    const runAfter = new Date(now + wait)
    yield* jobs.retry(lease, reason, runAfter)
    yield* Metric.increment(Metrics.jobsRetried)
    yield* Effect.logWarning("job will be retried", reason).pipe(
      Effect.annotateLogs("runAfter", runAfter.toISOString())
    )
  }).pipe(
    Effect.catchAll((e) => Effect.logWarning("could not record the job's outcome", e)),
    Effect.annotateLogs({
      jobId: job.id,
      profileId: job.profileId,
      attempt: job.attempt
    })
  )

/**
 * Starts a runner in the current scope. It claims jobs until the scope
 * closes.
 */
export const start = (options: RunnerOptions = {}) =>
  Effect.gen(function* () {
    const settings = resolve(options)
    const jobs = yield* JobStore
    const signal = yield* JobSignal
    const running = yield* FiberSet.make()
    const permits = yield* Effect.makeSemaphore(settings.jobConcurrency)

    const claimNext = Effect.gen(function* () {
      yield* permits.take(1)
      const wait = yield* signal.next
      const claimed = yield* jobs.claim(settings.runnerId, settings.leaseMillis).pipe(
        Effect.tap(Option.match({
          onNone: () => Effect.void,
          onSome: (job) =>
            Effect.zipRight(
              Metric.increment(Metrics.jobsClaimed),
              Effect.annotateCurrentSpan({ jobId: job.id, attempt: job.attempt })
            )
        })),
        Effect.withSpan("JobRunner.claim", { attributes: { runnerId: settings.runnerId } }),
        Effect.catchAll((e) =>
          Effect.as(Effect.logWarning("claim failed", e), Option.none<Job>())
        )
      )
      if (Option.isNone(claimed)) {
        yield* permits.release(1)
        yield* wait(settings.pollInterval)
        return
      }
      yield* FiberSet.run(
        running,
        runJob(claimed.value, settings).pipe(Effect.ensuring(permits.release(1)))
      )
    })

    yield* Effect.logInfo("runner started")
    yield* Effect.addFinalizer(() => Effect.logInfo("runner stopped"))
    yield* claimNext.pipe(
      Effect.forever,
      Effect.annotateLogs({ module: "JobRunner", runnerId: settings.runnerId }),
      Effect.forkScoped
    )
  }).pipe(Effect.annotateLogs({ module: "JobRunner" }))

/** A runner for the lifetime of the layer. */
export const layer = (
  options: RunnerOptions = {}
): Layer.Layer<never, never, Analyzer | ProfileStore | JobStore | JobSignal> =>
  Layer.scopedDiscard(start(options))
