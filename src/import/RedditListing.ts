/**
 * A Reddit API listing of a user's submissions, as
 * /user/NAME/submitted.json returns it: one page of "t3" children.
 */
import { Effect } from "effect"
import type { MediaType } from "../Domain.js"
import { InvalidInput } from "../Errors.js"
import { redditUsersIn, unescapeHtml } from "./CaptionText.js"
import {
  decodeRaw,
  dig,
  finish,
  isObject,
  labelRecords,
  nowIso,
  oneAuthor,
  type EncodedPost,
  type ImportFormat,
  type Layout
} from "./ImportFormat.js"
import * as Raw from "./RawSchema.js"

const Submission = Raw.object({
  id: Raw.optional(Raw.name),
  name: Raw.optional(Raw.name),
  title: Raw.text,
  selftext: Raw.optional(Raw.text),
  author: Raw.optional(Raw.name),
  subreddit: Raw.optional(Raw.name),
  score: Raw.optional(Raw.count),
  ups: Raw.optional(Raw.count),
  num_comments: Raw.optional(Raw.count),
  created_utc: Raw.epochSeconds,
  permalink: Raw.optional(Raw.text),
  url: Raw.optional(Raw.text),
  is_self: Raw.optional(Raw.flag),
  is_video: Raw.optional(Raw.flag),
  is_gallery: Raw.optional(Raw.flag),
  post_hint: Raw.optional(Raw.text)
})
type Submission = typeof Submission.Type

const Listing = Raw.object({
  kind: Raw.literal("Listing"),
  data: Raw.object({
    children: Raw.array(
      Raw.object({ kind: Raw.literal("t3"), data: Submission })
    )
  })
})

const mediaTypeOf = (post: Submission): MediaType => {
  const hint = post.post_hint ?? ""
  if (post.is_video === true || hint.endsWith(":video")) return "video"
  if (post.is_gallery === true) return "carousel"
  if (hint === "image") return "image"
  if (post.is_self === true || hint === "self") return "text"
  return post.is_self === false || hint === "link" ? "link" : "other"
}

const toPost = (post: Submission, platformPostId: string): EncodedPost => {
  const title = unescapeHtml(post.title)
  const selftext = unescapeHtml(post.selftext ?? "")
  const caption = selftext.trim() === "" ? title : `${title}\n\n${selftext}`
  const url = typeof post.permalink === "string"
    ? `https://www.reddit.com${post.permalink}`
    : post.url ?? null
  return {
    platformPostId,
    caption,
    hashtags: typeof post.subreddit === "string" ? [post.subreddit] : [],
    mentions: redditUsersIn(caption),
    mediaType: mediaTypeOf(post),
    likes: post.score ?? post.ups ?? 0,
    comments: post.num_comments ?? 0,
    views: null,
    postedAt: post.created_utc.toISOString(),
    url
  }
}

/**
 * A listing of submissions. Detected by `kind: "Listing"` with a
 * `data.children` array; every child must be a "t3" (a submission).
 */
export const RedditListing: ImportFormat = {
  name: "reddit-listing",
  mismatch: (content) =>
    isObject(content) && content.kind === "Listing" &&
      Array.isArray(dig(content, ["data", "children"]))
      ? undefined
      : "no {\"kind\": \"Listing\", \"data\": {\"children\": [...]}}",
  decode: (content, source) =>
    Effect.gen(function*() {
      const layout: Layout = {
        records: ["data", "children"],
        inner: ["data"],
        labelOf: labelRecords(
          "children",
          dig(content, ["data", "children"]),
          ["data", "id"]
        ),
        outside: "listing"
      }
      const listing = yield* decodeRaw(Listing, layout, source, content)
      const submissions = listing.data.children.map((child) => child.data)

      const handle = yield* oneAuthor(
        source,
        "author",
        submissions.map((post, index) => ({
          label: layout.labelOf(index),
          author: post.author
        }))
      )
      const posts: Array<EncodedPost> = []
      for (const [index, post] of submissions.entries()) {
        const id = post.id ?? post.name?.replace(/^t3_/, "")
        if (id === undefined) {
          return yield* new InvalidInput({
            source,
            record: layout.labelOf(index),
            field: "id",
            detail: "is required but missing, and so is name"
          })
        }
        posts.push(toPost(post, id))
      }

      return yield* finish(
        {
          profile: {
            platform: "reddit",
            handle,
            followers: null,
            following: null,
            postCount: null,
            fetchedAt: yield* nowIso
          },
          posts
        },
        source,
        layout.labelOf,
        "id"
      )
    })
}
