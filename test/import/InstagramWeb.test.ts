import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { InstagramWeb } from "../../src/import/InstagramWeb.js"
import { importProfile } from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = (name: string): any =>
  JSON.parse(readFileSync(path.resolve(here, "../fixtures", name), "utf8"))

describe("InstagramWeb", () => {
  it.effect("maps the profile and its posts", () =>
    Effect.gen(function*() {
      const imported = yield* importProfile(fixture("instagram-web.json"), "ig.json")

      expect(imported.profile).toMatchObject({
        platform: "instagram",
        handle: "lena.cooks.abroad",
        displayName: "Lena Moreau",
        followers: 48210,
        following: 612,
        postCount: 734,
        verified: false
      })
      const [image, video, sidecar] = imported.posts
      expect(image).toMatchObject({
        platformPostId: "Cx7aQ2LrT1k",
        hashtags: ["streetfood", "vietnam", "HoiAn"],
        mentions: ["hoian.eats"],
        mediaType: "image",
        likes: 2311,
        comments: 87,
        views: null,
        url: "https://www.instagram.com/p/Cx7aQ2LrT1k/"
      })
      expect(image!.postedAt.toISOString()).toBe("2024-05-01T16:30:00.000Z")
      expect(video).toMatchObject({ mediaType: "video", likes: 5120, views: 40512 })
      expect(sidecar).toMatchObject({ mediaType: "carousel", caption: "" })
    }))

  it.effect("reads the data.user wrapper the same way", () =>
    Effect.gen(function*() {
      const content = fixture("instagram-web.json")
      const imported = yield* importProfile({ data: content.graphql }, "ig.json")
      expect(imported.profile.handle).toBe("lena.cooks.abroad")
      expect(imported.posts).toHaveLength(3)
    }))

  it.effect("names the edge and field of a wrong-typed count", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        importProfile(fixture("instagram-web-bad-comments.json"), "ig.json")
      )
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        source: "ig.json",
        record: "edges[1] (id Cx5ZpLmoW9e)",
        field: "edge_media_to_comment.count",
        detail: "expected a non-negative integer, got \"143\""
      })
    }))

  it.effect("names user fields outside the posts", () =>
    Effect.gen(function*() {
      const content = fixture("instagram-web.json")
      content.graphql.user.edge_followed_by = { count: -5 }
      const error = yield* Effect.flip(InstagramWeb.decode(content, "ig.json"))
      expect(error).toMatchObject({
        record: "user",
        field: "edge_followed_by.count",
        detail: "expected a non-negative integer, got -5"
      })
    }))

  it.effect("rejects a post that appears twice", () =>
    Effect.gen(function*() {
      const content = fixture("instagram-web.json")
      const edges = content.graphql.user.edge_owner_to_timeline_media.edges
      edges.push(edges[0])
      const error = yield* Effect.flip(importProfile(content, "ig.json"))
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        record: "edges[3] (id Cx7aQ2LrT1k)",
        field: "shortcode"
      })
      expect(error.message).toContain("also used by edges[0]")
    }))
})
