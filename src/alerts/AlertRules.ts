/**
 * Alert rules: each looks at a health snapshot and says whether its
 * problem shows, and how. Rules are pure; Alerts evaluates them on a
 * schedule and keeps their firing state.
 */
import { Duration, Option } from "effect"
import type { HealthSnapshot } from "../Health.js"

export type Severity = "warning" | "critical"

/** Values a finding carries to a sink, JSON-safe. */
export type Details = Readonly<Record<string, string | number | boolean | null>>

/** What a rule found in a snapshot. */
export interface Finding {
  /** One line a person reads in a log or a chat message. */
  readonly summary: string
  readonly details?: Details | undefined
}

export interface AlertRule {
  /** Names the rule in alerts and in the firing state; unique among the rules evaluated. */
  readonly name: string
  readonly severity: Severity
  /** The problem in `snapshot`, or none. */
  readonly check: (snapshot: HealthSnapshot) => Option.Option<Finding>
}

/** Rounds to seconds for people: "6m 12s". */
export const formatMillis = (millis: number): string =>
  millis < 1000
    ? `${Math.round(millis)}ms`
    : Duration.format(Duration.seconds(Math.round(millis / 1000)))

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`

/**
 * A due job has waited longer than `after` (default 5 minutes) for a
 * runner: no runner is alive, or they cannot keep up.
 */
export const queuedTooLong = (
  options: { readonly after?: Duration.DurationInput | undefined } = {}
): AlertRule => {
  const after = Duration.toMillis(options.after ?? "5 minutes")
  return {
    name: "queued-job-too-old",
    severity: "warning",
    check: (snapshot) => {
      const oldest = snapshot.oldestQueued
      if (oldest === null || oldest.waitingMillis <= after) return Option.none()
      return Option.some({
        summary: `job ${oldest.jobId} has waited ${formatMillis(oldest.waitingMillis)} ` +
          `for a runner (limit ${formatMillis(after)}); ${snapshot.due} due job(s) queued`,
        details: {
          jobId: oldest.jobId,
          profileId: oldest.profileId,
          waitingMillis: oldest.waitingMillis,
          limitMillis: after,
          due: snapshot.due
        }
      })
    }
  }
}

/**
 * More than `above` (default 0.2) of the jobs that finished in the health
 * window (default 10 minutes) failed, once at least `minFinished` (default
 * 1) finished. Cancelled jobs do not count.
 */
export const failureRate = (
  options: {
    readonly above?: number | undefined
    readonly minFinished?: number | undefined
  } = {}
): AlertRule => {
  const above = options.above ?? 0.2
  const minFinished = options.minFinished ?? 1
  return {
    name: "job-failure-rate",
    severity: "critical",
    check: ({ recent }) => {
      const finished = recent.succeeded + recent.failed
      if (finished < minFinished || recent.failureRate === null) return Option.none()
      if (recent.failureRate <= above) return Option.none()
      return Option.some({
        summary: `${recent.failed} of ${finished} jobs failed in the last ` +
          `${formatMillis(recent.windowMillis)} (${percent(recent.failureRate)}, ` +
          `limit ${percent(above)})`,
        details: {
          failed: recent.failed,
          succeeded: recent.succeeded,
          failureRate: recent.failureRate,
          limit: above,
          windowMillis: recent.windowMillis
        }
      })
    }
  }
}

/**
 * A running job's lease has expired: its runner died or hangs, and no
 * runner has reclaimed it yet.
 */
export const stalledJob = (): AlertRule => ({
  name: "stalled-job",
  severity: "warning",
  check: (snapshot) => {
    const first = snapshot.stalledJobs[0]
    if (snapshot.stalled === 0 || first === undefined) return Option.none()
    return Option.some({
      summary: `${snapshot.stalled} running job(s) with an expired lease; ` +
        `first ${first.jobId} held by ${first.leaseHolder ?? "nobody"}`,
      details: {
        stalled: snapshot.stalled,
        jobId: first.jobId,
        leaseHolder: first.leaseHolder,
        leaseExpiredAt: first.leaseExpiredAt?.toISOString() ?? null
      }
    })
  }
})

/**
 * The same violation was repaired in at least `atLeast` (default 3)
 * separate repair runs within the health's repair window (default 24
 * hours): something keeps breaking it.
 */
export const repeatedRepairs = (
  options: { readonly atLeast?: number | undefined } = {}
): AlertRule => {
  const atLeast = options.atLeast ?? 3
  return {
    name: "repeated-repairs",
    severity: "warning",
    check: ({ repairs }) => {
      const repeated = repairs.recentByViolation.filter((r) => r.runs >= atLeast)
      if (repeated.length === 0) return Option.none()
      const list = repeated.map((r) => `${r.violation} (${r.runs} runs, ${r.repairs} repairs)`)
      return Option.some({
        summary: `repaired again and again in the last ` +
          `${formatMillis(repairs.windowMillis)}: ${list.join(", ")}`,
        details: {
          violations: repeated.map((r) => r.violation).join(","),
          atLeast,
          windowMillis: repairs.windowMillis
        }
      })
    }
  }
}

/** The four rules above with their defaults. */
export const defaultRules: ReadonlyArray<AlertRule> = [
  queuedTooLong(),
  failureRate(),
  stalledJob(),
  repeatedRepairs()
]
