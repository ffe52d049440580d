/**
 * Database rows and their decoding into domain values. A decoded row is
 * valid, so domain values are built from it without validating again. Drivers differ in
 * what they return for a BIGINT (a number or a string), so every integer
 * column is read through `Integer`.
 */
import { Schema } from "effect"
import {
  AnalysisResult,
  AnalysisFailure,
  Job,
  JobKind,
  JobStatus,
  MediaType,
  Platform,
  Post,
  Profile,
  ProfileInsights
} from "../Domain.js"

const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
const NullableInteger = Schema.NullOr(Integer)

/** Milliseconds since the epoch, stored as an integer. */
export const Millis = Schema.transform(Integer, Schema.DateFromSelf, {
  strict: true,
  decode: (ms) => new Date(ms),
  encode: (date) => date.getTime()
})
const NullableMillis = Schema.NullOr(Millis)

const Flag = Schema.transform(Integer, Schema.Boolean, {
  strict: true,
  decode: (n) => n !== 0,
  encode: (b) => (b ? 1 : 0)
})

const StringList = Schema.parseJson(Schema.Array(Schema.String))

export const ProfileRow = Schema.Struct({
  id: Schema.String,
  owner: Schema.String,
  platform: Platform,
  handle: Schema.String,
  display_name: Schema.NullOr(Schema.String),
  bio: Schema.NullOr(Schema.String),
  followers: NullableInteger,
  following: NullableInteger,
  post_count: NullableInteger,
  verified: Flag,
  fetched_at: Millis
})

export const decodeProfile = Schema.decodeUnknown(ProfileRow)

export const toProfile = (row: typeof ProfileRow.Type): Profile =>
  new Profile(
    {
      id: row.id,
      owner: row.owner,
      platform: row.platform,
      handle: row.handle,
      displayName: row.display_name,
      bio: row.bio,
      followers: row.followers,
      following: row.following,
      postCount: row.post_count,
      verified: row.verified,
      fetchedAt: row.fetched_at
    },
    true
  )

export const PostRow = Schema.Struct({
  id: Schema.String,
  profile_id: Schema.String,
  platform_post_id: Schema.String,
  caption: Schema.String,
  hashtags: StringList,
  mentions: StringList,
  media_type: MediaType,
  likes: Integer,
  comments: Integer,
  views: NullableInteger,
  posted_at: Millis,
  url: Schema.NullOr(Schema.String)
})

export const decodePosts = Schema.decodeUnknown(Schema.Array(PostRow))

export const toPost = (row: typeof PostRow.Type): Post =>
  new Post(
    {
      id: row.id,
      profileId: row.profile_id,
      platformPostId: row.platform_post_id,
      caption: row.caption,
      hashtags: row.hashtags,
      mentions: row.mentions,
      mediaType: row.media_type,
      likes: row.likes,
      comments: row.comments,
      views: row.views,
      postedAt: row.posted_at,
      url: row.url
    },
    true
  )

export const AnalysisRow = Schema.Struct({
  post_id: Schema.String,
  analyzer_id: Schema.String,
  analyzer_version: Schema.String,
  status: Schema.Literal("analysed", "failed"),
  result: Schema.NullOr(Schema.String),
  failure: Schema.NullOr(Schema.String),
  analyzed_at: Millis
})

export const decodeAnalyses = Schema.decodeUnknown(Schema.Array(AnalysisRow))
export const decodeResult = Schema.decodeUnknown(
  Schema.parseJson(AnalysisResult)
)
export const encodeResult = Schema.encode(Schema.parseJson(AnalysisResult))
export const decodeFailure = Schema.decodeUnknown(
  Schema.parseJson(AnalysisFailure)
)
export const encodeFailure = Schema.encode(Schema.parseJson(AnalysisFailure))

export const InsightsBody = Schema.parseJson(ProfileInsights)
export const decodeInsights = Schema.decodeUnknown(InsightsBody)
export const encodeInsights = Schema.encode(InsightsBody)

export const JobRow = Schema.Struct({
  id: Schema.String,
  kind: JobKind,
  profile_id: Schema.String,
  owner: Schema.String,
  status: JobStatus,
  done: Integer,
  failed: Integer,
  total: Integer,
  attempt: Integer,
  max_attempts: Integer,
  lease_holder: Schema.NullOr(Schema.String),
  lease_expires_at: NullableMillis,
  epoch: Integer,
  run_after: Millis,
  priority: Integer,
  last_error: Schema.NullOr(Schema.String),
  created_at: Millis,
  updated_at: Millis,
  finished_at: NullableMillis
})

export const decodeJobs = Schema.decodeUnknown(Schema.Array(JobRow))

export const toJob = (row: typeof JobRow.Type): Job =>
  new Job(
    {
      id: row.id,
      kind: row.kind,
      profileId: row.profile_id,
      owner: row.owner,
      status: row.status,
      done: row.done,
      failed: row.failed,
      total: row.total,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      leaseHolder: row.lease_holder,
      leaseExpiresAt: row.lease_expires_at,
      epoch: row.epoch,
      runAfter: row.run_after,
      priority: row.priority,
      lastError: row.last_error,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      finishedAt: row.finished_at
    },
    true
  )
