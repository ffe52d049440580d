/**
 * The vocabulary of profile-insights as effect Schemas: what a host hands
 * in (profiles and posts), what the analyzer produces for one post, the
 * aggregate built for a profile, and the job that produces it.
 *
 * Every value that crosses a boundary (an import file, a database row, a
 * promise-client call) is decoded with one of these schemas.
 */
import { Schema } from "effect"

/** Platforms the library knows. "other" covers anything the host maps itself. */
export const Platform = Schema.Literal(
  "instagram",
  "twitter",
  "reddit",
  "tiktok",
  "youtube",
  "other"
)
export type Platform = typeof Platform.Type

export const MediaType = Schema.Literal(
  "image",
  "video",
  "carousel",
  "text",
  "link",
  "other"
)
export type MediaType = typeof MediaType.Type

const Count = Schema.NonNegativeInt

/** Text a host hands in: any string but one with NUL, which Postgres cannot store. */
const Text = Schema.String.pipe(
  Schema.filter((s) => !s.includes("\u0000"), {
    message: () => "must not contain a NUL character (\\u0000)"
  })
)

const Handle = Schema.Trim.pipe(
  Schema.compose(Text),
  Schema.compose(Schema.NonEmptyString),
  Schema.maxLength(200)
)

/**
 * A profile as a host hands it in. Counts the platform does not expose
 * (Reddit has no follower count) are null, never guessed.
 */
export class ProfileInput extends Schema.Class<ProfileInput>("ProfileInput")({
  platform: Platform,
  handle: Handle,
  displayName: Schema.optionalWith(Schema.NullOr(Text), {
    default: () => null
  }),
  bio: Schema.optionalWith(Schema.NullOr(Text), {
    default: () => null
  }),
  followers: Schema.optionalWith(Schema.NullOr(Count), { default: () => null }),
  following: Schema.optionalWith(Schema.NullOr(Count), { default: () => null }),
  postCount: Schema.optionalWith(Schema.NullOr(Count), { default: () => null }),
  verified: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  fetchedAt: Schema.optionalWith(Schema.Date, { default: () => new Date() })
}) {}

/** One post of a profile as a host hands it in. */
export class PostInput extends Schema.Class<PostInput>("PostInput")({
  platformPostId: Schema.Trim.pipe(
    Schema.compose(Schema.NonEmptyString),
    Schema.maxLength(200)
  ),
  caption: Schema.optionalWith(Text, { default: () => "" }),
  hashtags: Schema.optionalWith(Schema.Array(Text), {
    default: () => []
  }),
  mentions: Schema.optionalWith(Schema.Array(Text), {
    default: () => []
  }),
  mediaType: Schema.optionalWith(MediaType, { default: () => "other" }),
  likes: Schema.optionalWith(Count, { default: () => 0 }),
  comments: Schema.optionalWith(Count, { default: () => 0 }),
  views: Schema.optionalWith(Schema.NullOr(Count), { default: () => null }),
  postedAt: Schema.Date,
  url: Schema.optionalWith(Schema.NullOr(Text), {
    default: () => null
  })
}) {}

/**
 * A profile with its posts: the library's own import format, and what
 * every importer of a platform export produces.
 */
export class ProfileImport extends Schema.Class<ProfileImport>(
  "ProfileImport"
)({
  profile: ProfileInput,
  posts: Schema.Array(PostInput)
}) {}

// ---------------------------------------------------------------------------
// Analysis of one post

export const SentimentLabel = Schema.Literal(
  "positive",
  "neutral",
  "negative",
  "not_computed"
)
export type SentimentLabel = typeof SentimentLabel.Type

/**
 * Sentiment of one post. `score` is in -1..1 and null when the label is
 * "not_computed" (text the analyzer cannot read, such as a language other
 * than the ones it has a lexicon for); `reason` says why.
 */
export const Sentiment = Schema.Struct({
  label: SentimentLabel,
  score: Schema.NullOr(Schema.Number.pipe(Schema.between(-1, 1))),
  reason: Schema.optionalWith(Schema.NullOr(Schema.String), {
    default: () => null
  })
})
export type Sentiment = typeof Sentiment.Type

/**
 * Language of one post: an ISO 639-1 code, or "und" (undetermined) when
 * the text is too short or the detector is not reliable.
 */
export const Language = Schema.Struct({
  code: Schema.String,
  reliable: Schema.Boolean
})
export type Language = typeof Language.Type

export const Topic = Schema.Struct({
  topic: Schema.String,
  confidence: Schema.Number.pipe(Schema.between(0, 1))
})
export type Topic = typeof Topic.Type

export const Entity = Schema.Struct({
  text: Schema.String,
  type: Schema.String
})
export type Entity = typeof Entity.Type

export const BrandSafetyFlag = Schema.Struct({
  category: Schema.String,
  terms: Schema.Array(Schema.String)
})
export type BrandSafetyFlag = typeof BrandSafetyFlag.Type

/**
 * What analysing one post cost at a metered analyzer (one that calls a
 * paid model): the requests answered for it, malformed answers asked again
 * included, the tokens the server reported, and the cost estimated from
 * the analyzer's configured prices. Analyzers that meter nothing, such as
 * the embedded one, leave it out.
 */
export const AnalysisUsage = Schema.Struct({
  requests: Count,
  promptTokens: Count,
  completionTokens: Count,
  costUsd: Schema.NonNegative
})
export type AnalysisUsage = typeof AnalysisUsage.Type

/** Usage summed over analyses: `posts` is how many of them carried usage. */
export const UsageTotals = Schema.Struct({
  posts: Count,
  ...AnalysisUsage.fields
})
export type UsageTotals = typeof UsageTotals.Type

/** What an analyzer finds in one post. */
export class AnalysisResult extends Schema.Class<AnalysisResult>(
  "AnalysisResult"
)({
  sentiment: Sentiment,
  language: Language,
  topics: Schema.Array(Topic),
  hashtags: Schema.Array(Schema.String),
  mentions: Schema.Array(Schema.String),
  emoji: Schema.Array(Schema.String),
  entities: Schema.Array(Entity),
  keywords: Schema.Array(Schema.String),
  brandSafety: Schema.Array(BrandSafetyFlag),
  usage: Schema.optional(AnalysisUsage)
}) {}

/** Why a post could not be analysed, as recorded with the post. */
export const AnalysisFailure = Schema.Struct({
  reason: Schema.String,
  message: Schema.String,
  attempts: Schema.NonNegativeInt
})
export type AnalysisFailure = typeof AnalysisFailure.Type

/** The stored outcome of analysing one post at one analyzer version. */
export class PostAnalysis extends Schema.Class<PostAnalysis>("PostAnalysis")({
  postId: Schema.String,
  analyzerId: Schema.String,
  analyzerVersion: Schema.String,
  outcome: Schema.Union(
    Schema.TaggedStruct("Analysed", { result: AnalysisResult }),
    Schema.TaggedStruct("Failed", { failure: AnalysisFailure })
  ),
  analyzedAt: Schema.Date
}) {}

// ---------------------------------------------------------------------------
// Stored profiles and posts

export class Profile extends Schema.Class<Profile>("Profile")({
  id: Schema.String,
  owner: Schema.String,
  platform: Platform,
  handle: Schema.String,
  displayName: Schema.NullOr(Schema.String),
  bio: Schema.NullOr(Schema.String),
  followers: Schema.NullOr(Count),
  following: Schema.NullOr(Count),
  postCount: Schema.NullOr(Count),
  verified: Schema.Boolean,
  fetchedAt: Schema.Date
}) {}

export class Post extends Schema.Class<Post>("Post")({
  id: Schema.String,
  profileId: Schema.String,
  platformPostId: Schema.String,
  caption: Schema.String,
  hashtags: Schema.Array(Schema.String),
  mentions: Schema.Array(Schema.String),
  mediaType: MediaType,
  likes: Count,
  comments: Count,
  views: Schema.NullOr(Count),
  postedAt: Schema.Date,
  url: Schema.NullOr(Schema.String)
}) {}

// ---------------------------------------------------------------------------
// Profile insights

const Share = Schema.Number.pipe(Schema.between(0, 1))

export const Distribution = Schema.Struct({
  positive: Count,
  neutral: Count,
  negative: Count,
  notComputed: Count
})

export const Engagement = Schema.Struct({
  followers: Schema.NullOr(Count),
  /** Mean of (likes + comments) / followers per post; null without followers. */
  rate: Schema.NullOr(Schema.Number),
  averageLikes: Schema.Number,
  medianLikes: Schema.Number,
  averageComments: Schema.Number,
  medianComments: Schema.Number,
  averageViews: Schema.NullOr(Schema.Number),
  medianViews: Schema.NullOr(Schema.Number)
})

export const Cadence = Schema.Struct({
  /** Posts per weekday, Sunday first, in UTC. */
  byWeekday: Schema.Array(Count),
  /** Posts per hour of the day, 0..23, in UTC. */
  byHour: Schema.Array(Count),
  postsPerWeek: Schema.NullOr(Schema.Number),
  firstPostAt: Schema.NullOr(Schema.Date),
  lastPostAt: Schema.NullOr(Schema.Date)
})

/**
 * Which analyses an aggregate was built from: their number and the time of
 * the newest. An aggregate whose watermark is older than the newest stored
 * analysis of its profile is stale.
 */
export const Watermark = Schema.Struct({
  analyses: Count,
  newestAnalysisAt: Schema.NullOr(Schema.Date)
})
export type Watermark = typeof Watermark.Type

export class ProfileInsights extends Schema.Class<ProfileInsights>(
  "ProfileInsights"
)({
  profileId: Schema.String,
  analyzerId: Schema.String,
  analyzerVersion: Schema.String,
  computedAt: Schema.Date,
  watermark: Watermark,
  posts: Schema.Struct({ total: Count, analysed: Count, failed: Count }),
  failures: Schema.Array(
    Schema.Struct({
      postId: Schema.String,
      platformPostId: Schema.String,
      reason: Schema.String,
      message: Schema.String
    })
  ),
  sentiment: Schema.Struct({
    distribution: Distribution,
    meanScore: Schema.NullOr(Schema.Number)
  }),
  topTopics: Schema.Array(
    Schema.Struct({ topic: Schema.String, posts: Count, share: Share })
  ),
  topHashtags: Schema.Array(
    Schema.Struct({ hashtag: Schema.String, posts: Count })
  ),
  languages: Schema.Array(
    Schema.Struct({ code: Schema.String, posts: Count, share: Share })
  ),
  engagement: Engagement,
  cadence: Cadence,
  brandSafety: Schema.Struct({
    flaggedPosts: Count,
    safeShare: Schema.NullOr(Share),
    byCategory: Schema.Array(
      Schema.Struct({ category: Schema.String, posts: Count })
    )
  }),
  /** Summed usage of the analyses; absent when none of them was metered. */
  usage: Schema.optional(UsageTotals)
}) {}

// ---------------------------------------------------------------------------
// Jobs

export const JobKind = Schema.Literal("analyze", "refresh", "reaggregate")
export type JobKind = typeof JobKind.Type

export const JobStatus = Schema.Literal(
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled"
)
export type JobStatus = typeof JobStatus.Type

export const isTerminal = (status: JobStatus): boolean =>
  status === "succeeded" || status === "failed" || status === "cancelled"

export class Job extends Schema.Class<Job>("Job")({
  id: Schema.String,
  kind: JobKind,
  profileId: Schema.String,
  owner: Schema.String,
  status: JobStatus,
  done: Count,
  failed: Count,
  total: Count,
  attempt: Count,
  maxAttempts: Count,
  leaseHolder: Schema.NullOr(Schema.String),
  leaseExpiresAt: Schema.NullOr(Schema.Date),
  epoch: Count,
  runAfter: Schema.Date,
  priority: Schema.Int,
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  updatedAt: Schema.Date,
  finishedAt: Schema.NullOr(Schema.Date)
}) {
  /** Posts processed so far: analysed plus failed for good. */
  get processed(): number {
    return this.done + this.failed
  }

  /** Whole-number percentage of posts processed; 100 when there are none. */
  get percent(): number {
    return this.total === 0
      ? isTerminal(this.status) ? 100 : 0
      : Math.floor((this.processed * 100) / this.total)
  }

  /** "Progress: N% (done/total posts processed)". */
  get progressLine(): string {
    return `Progress: ${this.percent}% (${this.processed}/${this.total} posts processed)`
  }
}
