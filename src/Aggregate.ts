/**
 * Aggregation of a profile's post analyses into ProfileInsights: a pure
 * function of one consistent read (the profile, its posts and their
 * analyses at one analyzer version).
 */
import { Option } from "effect"
import type { Post, PostAnalysis, Profile } from "./Domain.js"
import { ProfileInsights } from "./Domain.js"
import * as Usage from "./Usage.js"

export interface AggregateInput {
  readonly profile: Profile
  readonly posts: ReadonlyArray<Post>
  readonly analyses: ReadonlyArray<PostAnalysis>
  readonly analyzerId: string
  readonly analyzerVersion: string
  readonly now: Date
}

const TOP = 10
const WEEK_MS = 7 * 24 * 60 * 60 * 1000

export const mean = (xs: ReadonlyArray<number>): number =>
  xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const round = (x: number, digits = 4): number => {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Counts of each key, largest first, ties by key. */
const ranked = (keys: Iterable<string>): Array<[string, number]> => {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}

/**
 * Builds the insights of a profile. Only analyses of posts in `posts` count;
 * failed analyses are listed under `failures` and left out of every
 * distribution.
 */
export const aggregate = (input: AggregateInput): ProfileInsights => {
  const { profile, posts } = input
  const postIds = new Set(posts.map((p) => p.id))
  const analyses = input.analyses.filter((a) => postIds.has(a.postId))
  const postById = new Map(posts.map((p) => [p.id, p]))
  const results = analyses.flatMap((a) =>
    a.outcome._tag === "Analysed" ? [a.outcome.result] : []
  )
  const failures = analyses.flatMap((a) =>
    a.outcome._tag === "Failed"
      ? [{
          postId: a.postId,
          platformPostId: postById.get(a.postId)!.platformPostId,
          reason: a.outcome.failure.reason,
          message: a.outcome.failure.message
        }]
      : []
  )
  const newest = analyses.reduce<Date | null>(
    (acc, a) => (acc === null || a.analyzedAt > acc ? a.analyzedAt : acc),
    null
  )

  const distribution = { positive: 0, neutral: 0, negative: 0, notComputed: 0 }
  const scores: Array<number> = []
  for (const r of results) {
    if (r.sentiment.label === "not_computed") distribution.notComputed++
    else distribution[r.sentiment.label]++
    if (r.sentiment.score !== null) scores.push(r.sentiment.score)
  }

  const share = (n: number) => (results.length === 0 ? 0 : round(n / results.length))
  const topics = ranked(results.flatMap((r) => [...new Set(r.topics.map((t) => t.topic))]))
  const hashtags = ranked(
    posts.flatMap((p) => [...new Set(p.hashtags.map((h) => h.toLowerCase()))])
  )
  const languages = ranked(results.map((r) => r.language.code))
  const flagged = results.filter((r) => r.brandSafety.length > 0)
  const categories = ranked(
    results.flatMap((r) => [...new Set(r.brandSafety.map((f) => f.category))])
  )
  const usage = Usage.ofAnalyses(analyses)

  return new ProfileInsights({
    profileId: profile.id,
    analyzerId: input.analyzerId,
    analyzerVersion: input.analyzerVersion,
    computedAt: input.now,
    watermark: { analyses: analyses.length, newestAnalysisAt: newest },
    posts: {
      total: posts.length,
      analysed: results.length,
      failed: failures.length
    },
    failures,
    sentiment: {
      distribution,
      meanScore: scores.length === 0 ? null : round(mean(scores))
    },
    topTopics: topics
      .slice(0, TOP)
      .map(([topic, n]) => ({ topic, posts: n, share: share(n) })),
    topHashtags: hashtags.slice(0, TOP).map(([hashtag, n]) => ({ hashtag, posts: n })),
    languages: languages.map(([code, n]) => ({ code, posts: n, share: share(n) })),
    engagement: engagement(profile, posts),
    cadence: cadence(posts),
    brandSafety: {
      flaggedPosts: flagged.length,
      safeShare: results.length === 0 ? null : share(results.length - flagged.length),
      byCategory: categories.map(([category, n]) => ({ category, posts: n }))
    },
    ...(Option.isSome(usage) ? { usage: usage.value } : {})
  })
}

const engagement = (profile: Profile, posts: ReadonlyArray<Post>) => {
  const likes = posts.map((p) => p.likes)
  const comments = posts.map((p) => p.comments)
  const views = posts.flatMap((p) => (p.views === null ? [] : [p.views]))
  const followers = profile.followers
  const rate =
    followers === null || followers === 0 || posts.length === 0
      ? null
      : round(mean(posts.map((p) => (p.likes + p.comments) / followers)), 6)
  return {
    followers,
    rate,
    averageLikes: round(mean(likes), 2),
    medianLikes: median(likes),
    averageComments: round(mean(comments), 2),
    medianComments: median(comments),
    averageViews: views.length === 0 ? null : round(mean(views), 2),
    medianViews: views.length === 0 ? null : median(views)
  }
}

const cadence = (posts: ReadonlyArray<Post>) => {
  const byWeekday = Array.from({ length: 7 }, () => 0)
  const byHour = Array.from({ length: 24 }, () => 0)
  for (const p of posts) {
    byWeekday[p.postedAt.getUTCDay()]!++
    byHour[p.postedAt.getUTCHours()]!++
  }
  let first: number | null = null
  let last: number | null = null
  for (const p of posts) {
    const t = p.postedAt.getTime()
    if (first === null || t < first) first = t
    if (last === null || t > last) last = t
  }
  const weeks = first === null || last === null ? 0 : (last - first) / WEEK_MS
  return {
    byWeekday,
    byHour,
    postsPerWeek: weeks <= 0 ? null : round(posts.length / weeks, 2),
    firstPostAt: first === null ? null : new Date(first),
    lastPostAt: last === null ? null : new Date(last)
  }
}
