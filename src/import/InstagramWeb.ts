/**
 * Instagram's web profile response: the user object of
 * `{ "graphql": { "user": ... } }` or `{ "data": { "user": ... } }`, with
 * the first page of posts under edge_owner_to_timeline_media.
 */
import { Effect } from "effect"
import type { MediaType } from "../Domain.js"
import { hashtagsIn, mentionsIn } from "./CaptionText.js"
import {
  decodeRaw,
  dig,
  finish,
  isObject,
  labelRecords,
  nowIso,
  textOrNull,
  type EncodedPost,
  type ImportFormat,
  type Layout
} from "./ImportFormat.js"
import * as Raw from "./RawSchema.js"

const EdgeCount = Raw.object({ count: Raw.count })

const Node = Raw.object({
  shortcode: Raw.name,
  __typename: Raw.optional(Raw.text),
  is_video: Raw.optional(Raw.flag),
  video_view_count: Raw.optional(Raw.count),
  taken_at_timestamp: Raw.epochSeconds,
  edge_media_to_caption: Raw.optional(Raw.object({
    edges: Raw.array(Raw.object({ node: Raw.object({ text: Raw.text }) }))
  })),
  edge_liked_by: Raw.optional(EdgeCount),
  edge_media_preview_like: Raw.optional(EdgeCount),
  edge_media_to_comment: Raw.optional(EdgeCount)
})
type Node = typeof Node.Type

const User = Raw.object({
  username: Raw.name,
  full_name: Raw.optional(Raw.text),
  biography: Raw.optional(Raw.text),
  is_verified: Raw.optional(Raw.flag),
  edge_followed_by: Raw.optional(EdgeCount),
  edge_follow: Raw.optional(EdgeCount),
  edge_owner_to_timeline_media: Raw.object({
    count: Raw.optional(Raw.count),
    edges: Raw.array(Raw.object({ node: Node }))
  })
})

const userOf = (content: unknown): Record<string, unknown> | undefined => {
  const user = dig(content, ["graphql", "user"]) ??
    dig(content, ["data", "user"])
  return isObject(user) ? user : undefined
}

const mediaTypeOf = (node: Node): MediaType => {
  const typename = node.__typename ?? ""
  if (typename.endsWith("Sidecar")) return "carousel"
  if (typename.endsWith("Video")) return "video"
  if (typename.endsWith("Image")) return "image"
  if (node.is_video === true) return "video"
  return node.is_video === false ? "image" : "other"
}

const toPost = (node: Node): EncodedPost => {
  const caption = node.edge_media_to_caption?.edges[0]?.node.text ?? ""
  const mediaType = mediaTypeOf(node)
  return {
    platformPostId: node.shortcode,
    caption,
    hashtags: hashtagsIn(caption),
    mentions: mentionsIn(caption),
    mediaType,
    likes: node.edge_liked_by?.count ??
      node.edge_media_preview_like?.count ?? 0,
    comments: node.edge_media_to_comment?.count ?? 0,
    views: mediaType === "video" ? node.video_view_count ?? null : null,
    postedAt: node.taken_at_timestamp.toISOString(),
    url: `https://www.instagram.com/p/${node.shortcode}/`
  }
}

/**
 * Instagram's web profile response. Detected by a `graphql.user` or
 * `data.user` object with a username or edge_owner_to_timeline_media.
 */
export const InstagramWeb: ImportFormat = {
  name: "instagram-web",
  mismatch: (content) => {
    const user = userOf(content)
    return user !== undefined &&
        ("username" in user || "edge_owner_to_timeline_media" in user)
      ? undefined
      : "no graphql.user or data.user object with a username"
  },
  decode: (content, source) =>
    Effect.gen(function*() {
      const raw = userOf(content)
      const layout: Layout = {
        records: ["edge_owner_to_timeline_media", "edges"],
        inner: ["node"],
        labelOf: labelRecords(
          "edges",
          dig(raw, ["edge_owner_to_timeline_media", "edges"]),
          ["node", "shortcode"]
        ),
        outside: "user"
      }
      const user = yield* decodeRaw(User, layout, source, raw)
      const media = user.edge_owner_to_timeline_media

      return yield* finish(
        {
          profile: {
            platform: "instagram",
            handle: user.username,
            displayName: textOrNull(user.full_name),
            bio: textOrNull(user.biography),
            followers: user.edge_followed_by?.count ?? null,
            following: user.edge_follow?.count ?? null,
            postCount: media.count ?? null,
            verified: user.is_verified ?? false,
            fetchedAt: yield* nowIso
          },
          posts: media.edges.map((edge) => toPost(edge.node))
        },
        source,
        layout.labelOf,
        "shortcode"
      )
    })
}
