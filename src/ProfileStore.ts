/**
 * Profiles, their posts, the analyses of those posts and the aggregate
 * insights, as stored. Reads are scoped to an owner wherever a host could
 * pass an id it got from a user.
 */
import { SqlClient } from "@effect/sql"
import { Array as Arr, Clock, Context, Effect, Layer, Option } from "effect"
import {
  type Platform,
  PostAnalysis,
  type PostInput,
  type Post,
  type Profile,
  type ProfileImport,
  type ProfileInsights
} from "./Domain.js"
import { NotFound, type StoreError } from "./Errors.js"
import type { ParseError } from "effect/ParseResult"
import { retryTransient, writeTransaction } from "./store/Dialect.js"
import * as Rows from "./store/Rows.js"
import { orStoreError } from "./store/StoreError.js"

/** What saving an import changed. */
export interface SaveResult {
  readonly profile: Profile
  readonly added: number
  /** Posts whose text changed: their analyses were dropped. */
  readonly changed: number
  readonly removed: number
}

export interface ProfileStoreShape {
  /**
   * Saves an import as the owner's current copy of the profile, in one
   * transaction: new posts are added, posts whose text changed lose their
   * analyses, posts missing from the import are removed with theirs.
   */
  readonly save: (
    owner: string,
    imported: ProfileImport
  ) => Effect.Effect<SaveResult, StoreError>
  readonly get: (
    owner: string,
    profileId: string
  ) => Effect.Effect<Profile, StoreError | NotFound>
  readonly findByHandle: (
    owner: string,
    platform: Platform,
    handle: string
  ) => Effect.Effect<Option.Option<Profile>, StoreError>
  readonly posts: (profileId: string) => Effect.Effect<ReadonlyArray<Post>, StoreError>
  readonly analyses: (
    profileId: string,
    analyzerVersion: string
  ) => Effect.Effect<ReadonlyArray<PostAnalysis>, StoreError>
  /**
   * The posts of a profile with their analyses at one analyzer version, in
   * one statement, so the two are consistent with each other.
   */
  readonly snapshot: (
    profileId: string,
    analyzerVersion: string
  ) => Effect.Effect<Snapshot, StoreError>
  /** The current aggregate of the owner's profile. */
  readonly insights: (
    owner: string,
    profileId: string
  ) => Effect.Effect<ProfileInsights, StoreError | NotFound>
}

export interface Snapshot {
  readonly posts: ReadonlyArray<Post>
  readonly analyses: ReadonlyArray<PostAnalysis>
}

export class ProfileStore extends Context.Tag("profile-insights/ProfileStore")<
  ProfileStore,
  ProfileStoreShape
>() {}

const BATCH = 200

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const selectProfile = sql`SELECT id, owner, platform, handle, display_name,
    bio, followers, following, post_count, verified, fetched_at
    FROM pi_profiles`

  const findByHandle: ProfileStoreShape["findByHandle"] = (
    owner,
    platform,
    handle
  ) =>
    sql`${selectProfile} WHERE owner = ${owner} AND platform = ${platform}
      AND handle = ${handle}`.pipe(
      Effect.flatMap((rows) =>
        Option.match(Arr.head(rows), {
          onNone: () => Effect.succeedNone,
          onSome: (row) =>
            Effect.map(Rows.decodeProfile(row), (r) => Option.some(Rows.toProfile(r)))
        })
      ),
      orStoreError("findByHandle")
    )

  const get: ProfileStoreShape["get"] = (owner, profileId) =>
    sql`${selectProfile} WHERE owner = ${owner} AND id = ${profileId}`.pipe(
      Effect.flatMap((rows) =>
        Effect.forEach(rows, (row) => Rows.decodeProfile(row))
      ),
      orStoreError("getProfile"),
      Effect.flatMap((rows) =>
        Option.match(Arr.head(rows), {
          onNone: () =>
            Effect.fail(new NotFound({ entity: "profile", id: profileId })),
          onSome: (row) => Effect.succeed(Rows.toProfile(row))
        })
      )
    )

  const postRow = (profileId: string, post: PostInput, now: number) => ({
    id: crypto.randomUUID(),
    profile_id: profileId,
    platform_post_id: post.platformPostId,
    caption: post.caption,
    hashtags: JSON.stringify(post.hashtags),
    mentions: JSON.stringify(post.mentions),
    media_type: post.mediaType,
    likes: post.likes,
    comments: post.comments,
    views: post.views,
    posted_at: post.postedAt.getTime(),
    url: post.url,
    updated_at: now
  })

  const upsertProfile = (owner: string, imported: ProfileImport, now: number) => {
    const p = imported.profile
    return sql<{ id: string }>`INSERT INTO pi_profiles ${sql.insert({
      id: crypto.randomUUID(),
      owner,
      platform: p.platform,
      handle: p.handle,
      display_name: p.displayName,
      bio: p.bio,
      followers: p.followers,
      following: p.following,
      post_count: p.postCount,
      verified: p.verified ? 1 : 0,
      fetched_at: p.fetchedAt.getTime(),
      created_at: now,
      updated_at: now
    })}
    ON CONFLICT (owner, platform, handle) DO UPDATE SET
      display_name = excluded.display_name, bio = excluded.bio,
      followers = excluded.followers, following = excluded.following,
      post_count = excluded.post_count, verified = excluded.verified,
      fetched_at = excluded.fetched_at, updated_at = excluded.updated_at
    RETURNING id`.pipe(Effect.map((rows) => rows[0]!.id))
  }

  const save: ProfileStoreShape["save"] = (owner, imported) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const profileId = yield* upsertProfile(owner, imported, now)
      const existing = yield* sql<{
        id: string
        platform_post_id: string
        caption: string
        hashtags: string
        mentions: string
      }>`SELECT id, platform_post_id, caption, hashtags, mentions
        FROM pi_posts WHERE profile_id = ${profileId}`
      const byPlatformId = new Map(existing.map((r) => [r.platform_post_id, r]))
      const incoming = new Set(imported.posts.map((p) => p.platformPostId))

      const rows = imported.posts.map((post) => postRow(profileId, post, now))
      const changed = rows.filter((row) => {
        const old = byPlatformId.get(row.platform_post_id)
        return (
          old !== undefined &&
          (old.caption !== row.caption ||
            old.hashtags !== row.hashtags ||
            old.mentions !== row.mentions)
        )
      })
      const removed = existing.filter((r) => !incoming.has(r.platform_post_id))
      const dropAnalysesOf = [
        ...changed.map((row) => byPlatformId.get(row.platform_post_id)!.id),
        ...removed.map((r) => r.id)
      ]

      for (const chunk of Arr.chunksOf(dropAnalysesOf, BATCH)) {
        yield* sql`DELETE FROM pi_post_analyses WHERE ${sql.in("post_id", chunk)}`
      }
      for (const chunk of Arr.chunksOf(removed.map((r) => r.id), BATCH)) {
        yield* sql`DELETE FROM pi_posts WHERE ${sql.in("id", chunk)}`
      }
      for (const chunk of Arr.chunksOf(rows, BATCH)) {
        yield* sql`INSERT INTO pi_posts ${sql.insert(chunk)}
          ON CONFLICT (profile_id, platform_post_id) DO UPDATE SET
            caption = excluded.caption, hashtags = excluded.hashtags,
            mentions = excluded.mentions, media_type = excluded.media_type,
            likes = excluded.likes, comments = excluded.comments,
            views = excluded.views, posted_at = excluded.posted_at,
            url = excluded.url, updated_at = excluded.updated_at`
      }
      const profile = yield* get(owner, profileId)
      return {
        profile,
        added: rows.filter((r) => !byPlatformId.has(r.platform_post_id)).length,
        changed: changed.length,
        removed: removed.length
      }
    }).pipe(
      writeTransaction(sql),
      retryTransient,
      Effect.catchTag("NotFound", (e) => Effect.die(e)),
      orStoreError("saveProfile"),
      Effect.withSpan("ProfileStore.save")
    )

  const posts: ProfileStoreShape["posts"] = (profileId) =>
    sql`SELECT id, profile_id, platform_post_id, caption, hashtags, mentions,
      media_type, likes, comments, views, posted_at, url
      FROM pi_posts WHERE profile_id = ${profileId}
      ORDER BY posted_at, platform_post_id`.pipe(
      Effect.flatMap(Rows.decodePosts),
      Effect.map(Arr.map(Rows.toPost)),
      orStoreError("posts")
    )

  const analyses: ProfileStoreShape["analyses"] = (profileId, version) =>
    sql`SELECT post_id, analyzer_id, analyzer_version, status, result,
      failure, analyzed_at
      FROM pi_post_analyses
      WHERE profile_id = ${profileId} AND analyzer_version = ${version}`.pipe(
      Effect.flatMap(Rows.decodeAnalyses),
      Effect.flatMap(Effect.forEach(toAnalysis)),
      orStoreError("analyses")
    )

  const snapshot: ProfileStoreShape["snapshot"] = (profileId, version) =>
    sql`SELECT p.id, p.profile_id, p.platform_post_id, p.caption, p.hashtags,
      p.mentions, p.media_type, p.likes, p.comments, p.views, p.posted_at,
      p.url, a.post_id, a.analyzer_id, a.analyzer_version, a.status, a.result,
      a.failure, a.analyzed_at
      FROM pi_posts p LEFT JOIN pi_post_analyses a
      ON a.post_id = p.id AND a.analyzer_version = ${version}
      WHERE p.profile_id = ${profileId}
      ORDER BY p.posted_at, p.platform_post_id`.pipe(
      Effect.flatMap((rows) =>
        Effect.all({
          posts: Effect.map(Rows.decodePosts(rows), Arr.map(Rows.toPost)),
          analyses: Rows.decodeAnalyses(rows.filter((r) => r.post_id !== null)).pipe(
            Effect.flatMap(Effect.forEach(toAnalysis))
          )
        })
      ),
      orStoreError("snapshot")
    )

  const insights: ProfileStoreShape["insights"] = (owner, profileId) =>
    sql<{ body: string }>`SELECT i.body FROM pi_profile_insights i
      JOIN pi_profiles p ON p.id = i.profile_id
      WHERE p.owner = ${owner} AND i.profile_id = ${profileId}`.pipe(
      Effect.flatMap((rows) =>
        Effect.forEach(rows, (row) => Rows.decodeInsights(row.body))
      ),
      orStoreError("insights"),
      Effect.flatMap((rows) =>
        Option.match(Arr.head(rows), {
          onNone: () =>
            Effect.fail(new NotFound({ entity: "insights", id: profileId })),
          onSome: Effect.succeed
        })
      )
    )

  return ProfileStore.of({
    save,
    get,
    findByHandle,
    posts,
    analyses,
    snapshot,
    insights
  })
})

const toAnalysis = (row: typeof Rows.AnalysisRow.Type) =>
  Effect.map(
    (row.status === "analysed"
      ? Effect.map(Rows.decodeResult(row.result), (result) => ({
          _tag: "Analysed" as const,
          result
        }))
      : Effect.map(Rows.decodeFailure(row.failure), (failure) => ({
          _tag: "Failed" as const,
          failure
        }))) as Effect.Effect<PostAnalysis["outcome"], ParseError>,
    (outcome) =>
      new PostAnalysis({
        postId: row.post_id,
        analyzerId: row.analyzer_id,
        analyzerVersion: row.analyzer_version,
        outcome,
        analyzedAt: row.analyzed_at
      })
  )

export const layer = Layer.effect(ProfileStore, make)
