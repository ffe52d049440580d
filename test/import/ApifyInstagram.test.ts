import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { importProfile } from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = (name: string): any =>
  JSON.parse(readFileSync(path.resolve(here, "../fixtures", name), "utf8"))

describe("ApifyInstagram", () => {
  it.effect("maps the items, skipping scraper error items", () =>
    Effect.gen(function*() {
      const imported = yield* importProfile(fixture("apify-instagram.json"), "apify.json")

      expect(imported.profile).toMatchObject({
        platform: "instagram",
        handle: "lena.cooks.abroad",
        displayName: "Lena Moreau",
        followers: null
      })
      expect(imported.posts.map((p) => p.platformPostId))
        .toEqual(["Cx7aQ2LrT1k", "Cx5ZpLmoW9e", "Cx2Wn8YrQ0a"])
      const [image, video, sidecar] = imported.posts
      expect(image).toMatchObject({
        hashtags: ["streetfood", "vietnam"],
        mentions: ["hoian.eats"],
        mediaType: "image",
        likes: 2311,
        comments: 87,
        views: null
      })
      expect(image!.postedAt.toISOString()).toBe("2024-05-01T16:30:00.000Z")
      expect(video).toMatchObject({
        hashtags: ["nightmarket"],
        mentions: ["taipei.bites"],
        mediaType: "video",
        likes: 0,
        views: 91034,
        url: "https://www.instagram.com/p/Cx5ZpLmoW9e/"
      })
      expect(sidecar).toMatchObject({ mediaType: "carousel", likes: 980 })
    }))

  it.effect("takes followers from ownerFollowersCount when present", () =>
    Effect.gen(function*() {
      const items = fixture("apify-instagram.json")
      items[1].ownerFollowersCount = 48210
      const imported = yield* importProfile(items, "apify.json")
      expect(imported.profile.followers).toBe(48210)
    }))

  it.effect("names the record and field of a negative like count", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(importProfile(
        fixture("apify-instagram-negative-likes.json"),
        "apify.json"
      ))
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        source: "apify.json",
        record: "posts[3] (id Cx2Wn8YrQ0a)",
        field: "likesCount",
        detail: "expected a non-negative integer, got -3"
      })
      expect(error.message).toBe(
        "apify.json: posts[3] (id Cx2Wn8YrQ0a).likesCount: " +
          "expected a non-negative integer, got -3"
      )
    }))

  it.effect("rejects items of two owners", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(importProfile(
        fixture("apify-instagram-two-owners.json"),
        "apify.json"
      ))
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        record: "posts[1] (id Cx5ZpLmoW9e)",
        field: "ownerUsername"
      })
    }))

  it.effect("requires a timestamp and tolerates other missing fields", () =>
    Effect.gen(function*() {
      const sparse = [
        { shortCode: "A1", ownerUsername: "x", timestamp: "2024-01-01T00:00:00Z" }
      ]
      const imported = yield* importProfile(sparse, "apify.json")
      expect(imported.posts[0]).toMatchObject({
        caption: "",
        likes: 0,
        comments: 0,
        mediaType: "other"
      })

      const error = yield* Effect.flip(
        importProfile([{ shortCode: "A1", ownerUsername: "x" }], "apify.json")
      )
      expect(error).toMatchObject({
        record: "posts[0] (id A1)",
        field: "timestamp",
        detail: "is required but missing"
      })
    }))

  it.effect("rejects a post that appears twice", () =>
    Effect.gen(function*() {
      const items = fixture("apify-instagram.json")
      items.push({ ...items[0] })
      const error = yield* Effect.flip(importProfile(items, "apify.json"))
      expect(error).toMatchObject({
        record: "posts[4] (id Cx7aQ2LrT1k)",
        field: "shortCode"
      })
    }))
})
