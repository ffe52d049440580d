/**
 * A readable, plain-text rendering of ProfileInsights for a terminal.
 */
import { Schema } from "effect"
import { Profile, ProfileInsights } from "../../src/index.js"

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const BARS = " ▁▂▃▄▅▆▇█"

const pct = (share: number) => `${Math.round(share * 100)}%`
const num = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 })

/** One character per value, scaled to the largest. */
export const sparkline = (values: ReadonlyArray<number>): string => {
  const max = Math.max(0, ...values)
  return values
    .map((v) => BARS[max === 0 ? 0 : Math.round((v / max) * (BARS.length - 1))])
    .join("")
}

const busiest = (values: ReadonlyArray<number>): number =>
  values.reduce((best, v, i) => (v > values[best]! ? i : best), 0)

const line = (label: string, text: string) => `${label.padEnd(13)}${text}`

export const render = (profile: Profile, insights: ProfileInsights): string => {
  const { sentiment, engagement, cadence, brandSafety, posts } = insights
  const d = sentiment.distribution
  const lines: Array<string> = []
  const followers =
    profile.followers === null ? "followers unknown" : `${num(profile.followers)} followers`
  lines.push(`@${profile.handle} on ${profile.platform} · ${followers}`)
  lines.push(
    `Analysed ${posts.analysed} of ${posts.total} posts` +
      (posts.failed > 0 ? ` (${posts.failed} failed)` : "") +
      ` with ${insights.analyzerVersion}`
  )
  lines.push("")
  lines.push(
    line(
      "Sentiment",
      `positive ${d.positive} · neutral ${d.neutral} · negative ${d.negative}` +
        (d.notComputed > 0 ? ` · not computed ${d.notComputed}` : "") +
        (sentiment.meanScore === null
          ? ""
          : `  (mean ${sentiment.meanScore >= 0 ? "+" : ""}${sentiment.meanScore.toFixed(2)})`)
    )
  )
  lines.push(
    line(
      "Languages",
      insights.languages.map((l) => `${l.code} ${pct(l.share)}`).join(" · ") || "none"
    )
  )
  lines.push(
    line(
      "Top topics",
      insights.topTopics
        .slice(0, 6)
        .map((t) => `${t.topic} ${pct(t.share)}`)
        .join(" · ") || "none found"
    )
  )
  lines.push(
    line(
      "Hashtags",
      insights.topHashtags
        .slice(0, 6)
        .map((h) => `#${h.hashtag} (${h.posts})`)
        .join(" · ") || "none"
    )
  )
  lines.push(
    line(
      "Engagement",
      (engagement.rate === null
        ? "rate unknown (no follower count)"
        : `${(engagement.rate * 100).toFixed(2)}% of followers per post`) +
        ` · likes avg ${num(engagement.averageLikes)} (median ${num(engagement.medianLikes)})` +
        ` · comments avg ${num(engagement.averageComments)}` +
        ` (median ${num(engagement.medianComments)})` +
        (engagement.averageViews === null ? "" : ` · views avg ${num(engagement.averageViews)}`)
    )
  )
  if (posts.total > 0) {
    lines.push(
      line(
        "Cadence",
        (cadence.postsPerWeek === null ? "" : `${num(cadence.postsPerWeek)} posts/week · `) +
          `busiest ${WEEKDAYS[busiest(cadence.byWeekday)]}` +
          ` and ${String(busiest(cadence.byHour)).padStart(2, "0")}:00 UTC`
      )
    )
    lines.push(line("  by weekday", `${sparkline(cadence.byWeekday)}  (Sun..Sat)`))
    lines.push(line("  by hour", `${sparkline(cadence.byHour)}  (00..23 UTC)`))
  }
  lines.push(
    line(
      "Brand safety",
      `${posts.analysed - brandSafety.flaggedPosts} of ${posts.analysed} posts clear` +
        (brandSafety.byCategory.length === 0
          ? ""
          : `; flagged: ${brandSafety.byCategory.map((c) => `${c.category} ${c.posts}`).join(", ")}`)
    )
  )
  for (const f of insights.failures) {
    lines.push(line("Failed", `post ${f.platformPostId}: ${f.reason}: ${f.message}`))
  }
  return lines.join("\n")
}

/** The profile and its insights as plain JSON. */
export const toJson = (profile: Profile, insights: ProfileInsights) => ({
  profile: Schema.encodeSync(Profile)(profile),
  insights: Schema.encodeSync(ProfileInsights)(insights)
})
