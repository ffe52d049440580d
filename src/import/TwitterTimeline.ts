/**
 * A Twitter/X API v1.1 statuses/user_timeline response: an array of
 * tweets, newest first, each with the user who posted it.
 */
import { Effect } from "effect"
import type { MediaType } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { hashtagsIn, mentionsIn, unescapeHtml } from "./CaptionText.js"
import {
  decodeRaw,
  finish,
  isObject,
  labelRecords,
  nowIso,
  oneAuthor,
  textOrNull,
  type EncodedPost,
  type ImportFormat
} from "./ImportFormat.js"
import * as Raw from "./RawSchema.js"

const Media = Raw.array(Raw.object({ type: Raw.text }))

const Tweet = Raw.object({
  id_str: Raw.name,
  created_at: Raw.twitterDate,
  text: Raw.optional(Raw.text),
  full_text: Raw.optional(Raw.text),
  entities: Raw.optional(Raw.object({
    hashtags: Raw.optional(Raw.array(Raw.object({ text: Raw.text }))),
    user_mentions: Raw.optional(
      Raw.array(Raw.object({ screen_name: Raw.text }))
    ),
    urls: Raw.optional(Raw.array(Raw.object({}))),
    media: Raw.optional(Media)
  })),
  extended_entities: Raw.optional(Raw.object({ media: Raw.optional(Media) })),
  favorite_count: Raw.optional(Raw.count),
  reply_count: Raw.optional(Raw.count),
  user: Raw.object({
    screen_name: Raw.name,
    name: Raw.optional(Raw.text),
    description: Raw.optional(Raw.text),
    followers_count: Raw.optional(Raw.count),
    friends_count: Raw.optional(Raw.count),
    statuses_count: Raw.optional(Raw.count),
    verified: Raw.optional(Raw.flag)
  })
})
type Tweet = typeof Tweet.Type

const Timeline = Raw.array(Tweet)

const mediaTypeOf = (tweet: Tweet): MediaType => {
  const media = tweet.extended_entities?.media ?? tweet.entities?.media ?? []
  const [first] = media
  if (media.length > 1) return "carousel"
  if (first !== undefined) {
    if (first.type === "photo") return "image"
    return first.type === "video" || first.type === "animated_gif"
      ? "video"
      : "other"
  }
  return (tweet.entities?.urls?.length ?? 0) > 0 ? "link" : "text"
}

const toPost = (tweet: Tweet, caption: string): EncodedPost => ({
  platformPostId: tweet.id_str,
  caption,
  hashtags: tweet.entities?.hashtags?.map((h) => h.text) ??
    hashtagsIn(caption),
  mentions: tweet.entities?.user_mentions?.map((m) => m.screen_name) ??
    mentionsIn(caption),
  mediaType: mediaTypeOf(tweet),
  likes: tweet.favorite_count ?? 0,
  comments: tweet.reply_count ?? 0,
  views: null,
  postedAt: tweet.created_at.toISOString(),
  url: `https://twitter.com/${tweet.user.screen_name}/status/${tweet.id_str}`
})

/**
 * A v1.1 user timeline. Detected by an array whose first item has id_str,
 * created_at and text or full_text.
 */
export const TwitterTimeline: ImportFormat = {
  name: "twitter-timeline",
  mismatch: (content) => {
    if (!Array.isArray(content)) return "not an array of tweets"
    const [first] = content
    if (first === undefined) return "an empty array has no tweets to tell by"
    return isObject(first) && "id_str" in first && "created_at" in first &&
        ("text" in first || "full_text" in first)
      ? undefined
      : "the first item has no id_str, created_at and text"
  },
  decode: (content, source) =>
    Effect.gen(function*() {
      const labelOf = labelRecords("tweets", content, ["id_str"])
      const tweets = yield* decodeRaw(
        Timeline,
        { records: [], inner: [], labelOf },
        source,
        content
      )

      const handle = yield* oneAuthor(
        source,
        "user.screen_name",
        tweets.map((tweet, index) => ({
          label: labelOf(index),
          author: tweet.user.screen_name
        }))
      )
      const posts: Array<EncodedPost> = []
      for (const [index, tweet] of tweets.entries()) {
        const text = tweet.full_text ?? tweet.text
        if (text === undefined || text === null) {
          return yield* new InvalidInput({
            source,
            record: labelOf(index),
            field: "text",
            detail: "is required but missing, and so is full_text"
          })
        }
        posts.push(toPost(tweet, unescapeHtml(text)))
      }
      const user = tweets[0]?.user

      return yield* finish(
        {
          profile: {
            platform: "twitter",
            handle,
            displayName: textOrNull(user?.name),
            bio: textOrNull(user?.description),
            followers: user?.followers_count ?? null,
            following: user?.friends_count ?? null,
            postCount: user?.statuses_count ?? null,
            verified: user?.verified ?? false,
            fetchedAt: yield* nowIso
          },
          posts
        },
        source,
        labelOf,
        "id_str"
      )
    })
}
