/**
 * Token usage and estimated cost of metered analyzers, summed.
 *
 * Each analysis of a metered analyzer carries its own usage
 * (AnalysisResult.usage). A profile's insights carry the sum over the
 * analyses they were built from (ProfileInsights.usage); `ofJob` sums the
 * analyses a job recorded. Posts that failed for good carry no result and
 * so no usage: the tokens spent on them are not counted.
 */
import { Clock, Effect, Option } from "effect"
import { Analyzer } from "./Analyzer.js"
import type { AnalysisUsage, PostAnalysis, UsageTotals } from "./Domain.js"
import type { NotFound, StoreError } from "./Errors.js"
import { JobStore } from "./JobStore.js"
import { ProfileStore } from "./ProfileStore.js"

const roundCost = (usd: number): number => Math.round(usd * 1e6) / 1e6

/** The sum of `usages`; none when the list is empty. */
export const total = (
  usages: ReadonlyArray<AnalysisUsage>
): Option.Option<UsageTotals> =>
  usages.length === 0
    ? Option.none()
    : Option.some(
      usages.reduce<UsageTotals>(
        (sum, u) => ({
          posts: sum.posts + 1,
          requests: sum.requests + u.requests,
          promptTokens: sum.promptTokens + u.promptTokens,
          completionTokens: sum.completionTokens + u.completionTokens,
          costUsd: roundCost(sum.costUsd + u.costUsd)
        }),
        { posts: 0, requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 }
      )
    )

/** The usage carried by the analysed outcomes among `analyses`. */
export const ofAnalyses = (
  analyses: ReadonlyArray<PostAnalysis>
): Option.Option<UsageTotals> =>
  total(
    analyses.flatMap((a) =>
      a.outcome._tag === "Analysed" && a.outcome.result.usage !== undefined
        ? [a.outcome.result.usage]
        : []
    )
  )

/**
 * The usage of one job: the analyses of its profile at the current
 * analyzer's version recorded between the job's creation and its end (now,
 * while it runs). Another job of a different kind working on the same
 * profile at the same time would be counted too. None when the job
 * recorded no metered analysis.
 */
export const ofJob = (
  owner: string,
  jobId: string
): Effect.Effect<
  Option.Option<UsageTotals>,
  StoreError | NotFound,
  Analyzer | JobStore | ProfileStore
> =>
  Effect.gen(function* () {
    const analyzer = yield* Analyzer
    const job = yield* Effect.flatMap(JobStore, (jobs) => jobs.get(owner, jobId))
    const { analyses } = yield* Effect.flatMap(ProfileStore, (profiles) =>
      profiles.snapshot(job.profileId, analyzer.version)
    )
    const end = job.finishedAt?.getTime() ?? (yield* Clock.currentTimeMillis)
    const from = job.createdAt.getTime()
    return ofAnalyses(
      analyses.filter((a) => {
        const at = a.analyzedAt.getTime()
        return at >= from && at <= end
      })
    )
  }).pipe(Effect.withSpan("Usage.ofJob"))
