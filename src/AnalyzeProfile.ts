/**
 * The program a runner executes for a claimed job: analyse every post of
 * the profile that has no analysis at the current analyzer version, each
 * checkpointed in its own transaction, then aggregate the profile.
 *
 * Every kind of job runs this one idempotent program: an "analyze" job on a
 * fresh profile analyses everything, a "refresh" after a re-import only
 * what is new or changed, a "reaggregate" nothing but the aggregate.
 *
 * A post's own failures (an off-schema answer, a refusal) are recorded as
 * its analysis. A failure of the service (timeout, rate limit, server
 * unavailable), once the retries here are spent, is not: it ends the job's
 * attempt with that error, keeping every checkpoint, and the runner hands
 * the job back to run again later, or fails it after its last attempt.
 * Failures of that kind recorded by earlier versions are analysed again.
 */
import { Chunk, Clock, Deferred, Duration, Effect, Metric, Queue, Schedule } from "effect"
import { aggregate } from "./Aggregate.js"
import { Analyzer } from "./Analyzer.js"
import { type Job, type Post, PostAnalysis } from "./Domain.js"
import { AnalyzerError, type LeaseLost, type NotFound, type StoreError } from "./Errors.js"
import { JobStore, type Lease } from "./JobStore.js"
import * as Metrics from "./Metrics.js"
import { ProfileStore } from "./ProfileStore.js"

export interface AnalyzeSettings {
  /** Posts of one job analysed at once. */
  readonly postConcurrency: number
  /** Longest one analyzer call may take before it counts as a timeout. */
  readonly postTimeout: Duration.DurationInput
  /**
   * Retries of a transient analyzer failure before the job's attempt ends.
   * A failure that says how long to wait (`retryAfterMillis`) is not
   * retried here: the attempt ends and the job runs again after that wait.
   */
  readonly postRetries: number
  /** First delay between retries of a post; doubles each time, jittered. */
  readonly postRetryBase: Duration.DurationInput
}

export const defaultAnalyzeSettings: AnalyzeSettings = {
  postConcurrency: 4,
  postTimeout: Duration.seconds(60),
  postRetries: 3,
  postRetryBase: Duration.millis(200)
}

/** Rounds of "analyse what is missing" before giving up on a moving target. */
const MAX_ROUNDS = 3

export const analyzeProfile = (
  job: Job,
  settings: AnalyzeSettings = defaultAnalyzeSettings
): Effect.Effect<
  void,
  StoreError | LeaseLost | NotFound | AnalyzerError,
  Analyzer | ProfileStore | JobStore
> =>
  Effect.gen(function* () {
    const analyzer = yield* Analyzer
    const profiles = yield* ProfileStore
    const jobs = yield* JobStore
    const lease: Lease = { jobId: job.id, epoch: job.epoch }
    const profile = yield* profiles.get(job.owner, job.profileId)

    // Posts are counted with the checkpoint that stores them, so a count is
    // never lost to an interruption after the commit.
    const commit = yield* groupCommit((batch) =>
      jobs.checkpointMany(lease, profile.id, batch).pipe(
        Metrics.timeCheckpoint,
        Effect.zipRight(
          Effect.forEach(batch, (a) => Metrics.postRecorded(a.outcome._tag), {
            discard: true
          })
        )
      )
    )

    const analyseOne = (post: Post) =>
      analyzePost(post, settings).pipe(
        Effect.flatMap((outcome) =>
          Effect.map(Clock.currentTimeMillis, (now) =>
            // The outcome is already valid: the analyzer's result type, or a
            // failure built here.
            new PostAnalysis(
              {
                postId: post.id,
                analyzerId: analyzer.id,
                analyzerVersion: analyzer.version,
                outcome,
                analyzedAt: new Date(now)
              },
              true
            )
          )
        ),
        Effect.flatMap(commit),
        Effect.annotateLogs("postId", post.id)
      )

    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const { posts, analyses } = yield* profiles.snapshot(profile.id, analyzer.version)
      const kept = analyses.filter((a) => !isTransientFailure(a))
      const covered = new Set(kept.map((a) => a.postId))
      const pending = posts.filter((p) => !covered.has(p.id))

      if (pending.length === 0) {
        const now = yield* Clock.currentTimeMillis
        const insights = aggregate({
          profile,
          posts,
          analyses,
          analyzerId: analyzer.id,
          analyzerVersion: analyzer.version,
          now: new Date(now)
        })
        yield* jobs.complete(lease, insights).pipe(
          Effect.zipRight(Metric.increment(Metrics.jobsSucceeded)),
          Effect.uninterruptible,
          Effect.withSpan("AnalyzeProfile.aggregate")
        )
        return
      }

      const failed = kept.filter((a) => a.outcome._tag === "Failed").length
      const progress = { total: posts.length, done: kept.length - failed, failed }
      const counted = round === 1 &&
        job.total === progress.total &&
        job.done === progress.done &&
        job.failed === progress.failed
      if (!counted) yield* jobs.begin(lease, progress)
      yield* Effect.logDebug("analysing posts").pipe(
        Effect.annotateLogs({ pending: pending.length, round })
      )
      yield* Effect.forEach(pending, analyseOne, {
        concurrency: settings.postConcurrency,
        discard: true
      })
    }
    return yield* Effect.dieMessage(
      `posts of profile ${profile.id} kept changing during ${MAX_ROUNDS} rounds`
    )
  }).pipe(
    Effect.scoped,
    Effect.withSpan("AnalyzeProfile", { attributes: { jobId: job.id } })
  )

/** Most analyses one checkpoint transaction stores. */
const MAX_BATCH = 64

/**
 * A group commit: each caller waits until its analysis is committed, and
 * analyses that finish while a checkpoint is being written go together in
 * the next one. One post alone is still one transaction of its own. A
 * checkpoint that has started commits even if the job is interrupted.
 */
const groupCommit = <E>(
  write: (batch: ReadonlyArray<PostAnalysis>) => Effect.Effect<void, E>
) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<
      readonly [PostAnalysis, Deferred.Deferred<void, E>]
    >()
    yield* Queue.takeBetween(queue, 1, MAX_BATCH).pipe(
      Effect.flatMap((chunk) => {
        const items = Chunk.toReadonlyArray(chunk)
        return write(items.map(([analysis]) => analysis)).pipe(
          Effect.uninterruptible,
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.forEach(items, ([, done]) => Deferred.done(done, exit), {
              discard: true
            })
          )
        )
      }),
      Effect.forever,
      Effect.forkScoped
    )
    return (analysis: PostAnalysis): Effect.Effect<void, E> =>
      Effect.flatMap(Deferred.make<void, E>(), (done) =>
        Effect.zipRight(Queue.offer(queue, [analysis, done]), Deferred.await(done))
      )
  })

/** Reasons that say the service failed, not the post. */
const transientReasons: ReadonlySet<string> = new Set(["Timeout", "RateLimited", "Unavailable"])

/**
 * A failure recorded by a version that stored the service's failures as
 * the post's: not an analysis, so the post is analysed again.
 */
const isTransientFailure = (analysis: PostAnalysis) =>
  analysis.outcome._tag === "Failed" && transientReasons.has(analysis.outcome.failure.reason)

/**
 * Analyses one post: transient failures are retried with exponential
 * backoff and jitter, unless they say how long to wait; a transient
 * failure that remains fails the effect (and so ends the job's attempt);
 * any other becomes the post's recorded failure.
 */
const analyzePost = (post: Post, settings: AnalyzeSettings) =>
  Effect.flatMap(Analyzer, (analyzer) => {
    let attempts = 0
    const once = Effect.suspend(() => {
      attempts++
      return Metrics.timeAnalyzerCall(analyzer.analyze(post))
    }).pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(
          new AnalyzerError({ reason: "Rejected", detail: describe(defect) })
        )
      ),
      Effect.timeoutFail({
        duration: settings.postTimeout,
        onTimeout: () =>
          new AnalyzerError({
            reason: "Timeout",
            detail: `no answer within ${Duration.format(settings.postTimeout)}`
          })
      })
    )
    return once.pipe(
      Effect.retry({
        schedule: Schedule.exponential(settings.postRetryBase).pipe(
          Schedule.jittered
        ),
        times: settings.postRetries,
        while: (e) => e.transient && e.retryAfterMillis === undefined
      }),
      Effect.map((result) => ({ _tag: "Analysed" as const, result })),
      Effect.catchIf((error) => !error.transient, (error) =>
        Effect.as(
          Effect.logWarning("post analysis failed for good", error),
          {
            _tag: "Failed" as const,
            failure: { reason: error.reason, message: error.detail, attempts }
          }
        )
      ),
      Effect.withSpan("AnalyzeProfile.post", { attributes: { postId: post.id } })
    )
  })

const describe = (defect: unknown): string =>
  defect instanceof Error ? defect.message : String(defect)
