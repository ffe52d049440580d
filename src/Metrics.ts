/**
 * The library's metrics, as Effect metrics in the process's global
 * registry. The runner and the analysis program update them at the points
 * of a job's life; `Telemetry` exports them (Prometheus text, OTLP), and
 * `Health` reads the analyzer's latency quantiles from them.
 *
 * Every value here counts what this process did since it started: a
 * health snapshot taken by another process (the CLI) sees none of it.
 *
 * Names follow Prometheus conventions. Counters get a `_total` suffix when
 * exported, so `profile_insights_jobs_claimed` is scraped as
 * `profile_insights_jobs_claimed_total`.
 */
import { Clock, Effect, Metric, MetricBoundaries, Option } from "effect"
import type { Job } from "./Domain.js"

const counter = (name: string, description: string) =>
  Metric.counter(name, { description, incremental: true })

/**
 * Jobs this process recorded: submits that created a job, not the ones
 * that returned an active job. Counted by `trackSubmit`.
 */
export const jobsSubmitted = counter(
  "profile_insights_jobs_submitted",
  "jobs recorded by submit (a submit answered with an already active job is not counted)"
)
/** Claims of a job by a runner of this process, first claims and reclaims alike. */
export const jobsClaimed = counter(
  "profile_insights_jobs_claimed",
  "jobs claimed by a runner"
)
export const jobsSucceeded = counter(
  "profile_insights_jobs_succeeded",
  "jobs that ended succeeded"
)
export const jobsFailed = counter(
  "profile_insights_jobs_failed",
  "jobs that ended failed (attempts exhausted or a permanent error)"
)
export const jobsRetried = counter(
  "profile_insights_jobs_retried",
  "failed attempts put back in the queue to run again after a backoff"
)
export const jobsHandedBack = counter(
  "profile_insights_jobs_handed_back",
  "unfinished jobs handed back when a runner stopped"
)
export const postsAnalysed = counter(
  "profile_insights_posts_analysed",
  "post analyses checkpointed with a result"
)
export const postsFailed = counter(
  "profile_insights_posts_failed",
  "post analyses checkpointed as a failure (after the post's retries)"
)

/** Seconds of one analyzer call, every attempt, whatever its outcome. */
export const analyzerDuration = Metric.histogram(
  "profile_insights_analyzer_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 17 }),
  "seconds one analyzer call took, each attempt, whatever its outcome"
)

/**
 * The same observations over a sliding window of 10 minutes (at most 1000
 * of them): the source of the analyzer latency quantiles in a health
 * snapshot.
 */
export const analyzerDurationRecent = Metric.summary({
  name: "profile_insights_analyzer_duration_recent_seconds",
  maxAge: "10 minutes",
  maxSize: 1000,
  error: 0.01,
  quantiles: [0.5, 0.95, 0.99],
  description: "seconds one analyzer call took, over the last 10 minutes"
})

/** Seconds of one checkpoint transaction (a post's analysis and the job's counter). */
export const checkpointDuration = Metric.histogram(
  "profile_insights_checkpoint_duration_seconds",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 15 }),
  "seconds one checkpoint transaction took"
)

/** Jobs in the database by status, as of the last health snapshot. */
export const jobs = Metric.gauge("profile_insights_jobs", {
  description: "jobs in the database by status, as of the last health snapshot"
})
export const oldestQueuedAge = Metric.gauge(
  "profile_insights_oldest_queued_job_age_seconds",
  {
    description:
      "seconds the oldest due queued job has waited, as of the last health snapshot"
  }
)
export const jobsStalled = Metric.gauge("profile_insights_jobs_stalled", {
  description:
    "running jobs whose lease has expired, as of the last health snapshot"
})

/** Alert notifications by sink and outcome (sent, delivered, failed, dropped). */
export const alertNotifications = counter(
  "profile_insights_alert_notifications",
  "alert notifications by sink and outcome"
)

/**
 * Registers every counter and histogram of the library, so an export
 * shows them at zero before their first event.
 */
export const register: Effect.Effect<void> = Effect.all([
  Metric.value(jobsSubmitted),
  Metric.value(jobsClaimed),
  Metric.value(jobsSucceeded),
  Metric.value(jobsFailed),
  Metric.value(jobsRetried),
  Metric.value(jobsHandedBack),
  Metric.value(postsAnalysed),
  Metric.value(postsFailed),
  Metric.value(analyzerDuration),
  Metric.value(checkpointDuration)
], { discard: true })

const seconds = (startMillis: number) =>
  Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, now - startMillis) / 1000)

/**
 * Runs `effect` and records how long it took in `histograms`, whether it
 * succeeded, failed or was interrupted. Time is read from the Clock.
 */
export const timed =
  (...histograms: ReadonlyArray<Metric.Metric<any, number, any>>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.onExit(effect, () =>
        Effect.flatMap(seconds(start), (elapsed) =>
          Effect.forEach(histograms, (h) => Metric.update(h, elapsed), {
            discard: true
          })
        )
      )
    )

/** Times one analyzer call. */
export const timeAnalyzerCall = timed(analyzerDuration, analyzerDurationRecent)

/** Times one checkpoint. */
export const timeCheckpoint = timed(checkpointDuration)

/** Counts a checkpointed post analysis by its outcome. */
export const postRecorded = (outcome: "Analysed" | "Failed") =>
  Metric.increment(outcome === "Analysed" ? postsAnalysed : postsFailed)

/**
 * Counts a submit that recorded a new job. Wraps a submit: the job it
 * returns is new when it was created during the call; an active job found
 * by single-flight is older. Not exact under a race: a submit that finds
 * a job created in the very millisecond it started counts as well.
 */
export const trackSubmit = <E, R>(
  submit: Effect.Effect<Job, E, R>
): Effect.Effect<Job, E, R> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.tap(submit, (job) =>
      job.createdAt.getTime() >= start && job.attempt === 0
        ? Metric.increment(jobsSubmitted)
        : Effect.void
    )
  )

/**
 * Analyzer call latency in this process: p50 and p95 in milliseconds over
 * the last 10 minutes (null when no call was observed in that window), and
 * the calls observed since the process started.
 */
export const recentAnalyzerLatency = Effect.map(
  Metric.value(analyzerDurationRecent),
  (state) => {
    const quantile = (q: number) => {
      const found = state.quantiles.find(([at]) => at === q)
      return found === undefined
        ? null
        : Option.getOrNull(Option.map(found[1], (s) => Math.round(s * 1e6) / 1e3))
    }
    return { calls: state.count, p50: quantile(0.5), p95: quantile(0.95) }
  }
)
