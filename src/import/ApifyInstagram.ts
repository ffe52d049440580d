/**
 * The dataset of Apify's instagram-scraper run on one profile: an array of
 * post items. Any field but the timestamp may be missing.
 */
import { Effect, Schema } from "effect"
import type { MediaType } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { hashtagsIn, mentionsIn } from "./CaptionText.js"
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

/** The scraper writes -1 when the owner hides the like count. */
const likesCount = Schema.Union(Raw.count, Schema.Literal(-1))

const Item = Raw.object({
  id: Raw.optional(Raw.name),
  shortCode: Raw.optional(Raw.name),
  ownerUsername: Raw.optional(Raw.name),
  ownerFullName: Raw.optional(Raw.text),
  ownerFollowersCount: Raw.optional(Raw.count),
  caption: Raw.optional(Raw.text),
  hashtags: Raw.optional(Raw.array(Raw.text)),
  mentions: Raw.optional(Raw.array(Raw.text)),
  likesCount: Raw.optional(likesCount),
  commentsCount: Raw.optional(Raw.count),
  videoViewCount: Raw.optional(Raw.count),
  videoPlayCount: Raw.optional(Raw.count),
  timestamp: Raw.isoDate,
  type: Raw.optional(Raw.text),
  url: Raw.optional(Raw.text)
})
type Item = typeof Item.Type

const Items = Raw.array(Item)

const mediaTypes: Record<string, MediaType> = {
  Image: "image",
  Video: "video",
  Sidecar: "carousel"
}

/** An item the scraper writes for a profile or post it could not read. */
const isErrorItem = (item: unknown): boolean =>
  isObject(item) && typeof item.error === "string" &&
  !("shortCode" in item) && !("timestamp" in item)

const isPostItem = (item: unknown): boolean =>
  isObject(item) && ("ownerUsername" in item || "shortCode" in item)

const toPost = (item: Item, platformPostId: string): EncodedPost => {
  const caption = item.caption ?? ""
  const url = item.url ?? (typeof item.shortCode === "string"
    ? `https://www.instagram.com/p/${item.shortCode}/`
    : null)
  return {
    platformPostId,
    caption,
    hashtags: item.hashtags ?? hashtagsIn(caption),
    mentions: item.mentions ?? mentionsIn(caption),
    mediaType: mediaTypes[item.type ?? ""] ?? "other",
    likes: item.likesCount === -1 ? 0 : item.likesCount ?? 0,
    comments: item.commentsCount ?? 0,
    views: item.videoViewCount ?? item.videoPlayCount ?? null,
    postedAt: item.timestamp.toISOString(),
    url
  }
}

/**
 * Apify instagram-scraper results. Detected by an array with an item that
 * has ownerUsername or shortCode. Items that only report a scraper error
 * are skipped.
 */
export const ApifyInstagram: ImportFormat = {
  name: "apify-instagram",
  mismatch: (content) => {
    if (!Array.isArray(content)) return "not an array of post items"
    if (content.length === 0) return "an empty array has no posts to tell by"
    if (content.every(isErrorItem)) {
      return "every item is a scraper error, there are no posts"
    }
    return content.some(isPostItem)
      ? undefined
      : "no item has ownerUsername or shortCode"
  },
  decode: (content, source) =>
    Effect.gen(function*() {
      const kept: Array<number> = Array.isArray(content)
        ? content.flatMap((item, index) => isErrorItem(item) ? [] : [index])
        : []
      const labelOfItem = labelRecords("posts", content, ["shortCode"])
      const labelOf = (index: number) => labelOfItem(kept[index] ?? index)
      const items = yield* decodeRaw(
        Items,
        { records: [], inner: [], labelOf },
        source,
        Array.isArray(content) ? kept.map((index) => content[index]) : content
      )

      const handle = yield* oneAuthor(
        source,
        "ownerUsername",
        items.map((item, index) => ({
          label: labelOf(index),
          author: item.ownerUsername
        }))
      )
      const posts: Array<EncodedPost> = []
      for (const [index, item] of items.entries()) {
        const id = item.shortCode ?? item.id
        if (id === undefined || id === null) {
          return yield* new InvalidInput({
            source,
            record: labelOf(index),
            field: "shortCode",
            detail: "is required but missing, and so is id"
          })
        }
        posts.push(toPost(item, id))
      }
      const fullName = items.map((item) => textOrNull(item.ownerFullName))
        .find((name) => name !== null)
      const followers = items.map((item) => item.ownerFollowersCount)
        .find((count) => typeof count === "number")

      return yield* finish(
        {
          profile: {
            platform: "instagram",
            handle,
            displayName: fullName ?? null,
            followers: followers ?? null,
            fetchedAt: yield* nowIso
          },
          posts
        },
        source,
        labelOf,
        "shortCode"
      )
    })
}
