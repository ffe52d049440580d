import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ProfileImport } from "../../src/Domain.js"
import { hashtagsIn, mentionsIn } from "../../src/import/CaptionText.js"
import { importProfile } from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const read = (file: string): any => JSON.parse(readFileSync(file, "utf8"))
const fixture = (name: string) => read(path.resolve(here, "../fixtures", name))

describe("OwnFormat", () => {
  it.effect("reads a ProfileImport as JSON, filling defaults", () =>
    Effect.gen(function*() {
      const imported = yield* importProfile(fixture("own-format.json"), "own.json")

      expect(imported.profile.handle).toBe("lena.cooks.abroad")
      expect(imported.profile.followers).toBe(48210)
      expect(imported.profile.fetchedAt.toISOString())
        .toBe("2024-05-02T08:00:00.000Z")
      expect(imported.posts[1]).toMatchObject({
        platformPostId: "Cx5ZpLmoW9e",
        hashtags: [],
        mentions: [],
        views: 40512,
        url: null
      })
    }))

  it.effect("round-trips through Schema.encode", () =>
    Effect.gen(function*() {
      const imported = yield* importProfile(fixture("own-format.json"))
      const encoded = yield* Schema.encode(ProfileImport)(imported)
      const again = yield* importProfile(JSON.parse(JSON.stringify(encoded)))
      expect(again).toEqual(imported)
    }))

  it.effect("reads the README's sample profile", () =>
    Effect.gen(function*() {
      const sample = read(path.resolve(here, "../../examples/data/sample-profile.json"))
      const imported = yield* importProfile(sample, "sample-profile.json")

      expect(imported.profile.followers).toBe(48210)
      expect(imported.posts).toHaveLength(12)
      for (const post of imported.posts) {
        expect(post.hashtags).toEqual(hashtagsIn(post.caption))
        expect(post.mentions).toEqual(mentionsIn(post.caption))
      }
    }))

  it.effect("rejects duplicate platformPostIds", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        importProfile(fixture("own-format-duplicate-ids.json"), "own.json")
      )
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        source: "own.json",
        record: "posts[1] (id Cx7aQ2LrT1k)",
        field: "platformPostId",
        detail: "the id \"Cx7aQ2LrT1k\" is also used by posts[0] (id Cx7aQ2LrT1k); " +
          "each post must appear once"
      })
    }))

  it.effect("names the record and field of a wrong value", () =>
    Effect.gen(function*() {
      const content = fixture("own-format.json")
      content.posts[1].likes = -3
      const error = yield* Effect.flip(importProfile(content, "own.json"))
      expect(error).toMatchObject({
        record: "posts[1] (id Cx5ZpLmoW9e)",
        field: "likes",
        detail: "expected a non-negative number, got -3"
      })

      content.posts[1].likes = 3
      content.posts[0].postedAt = "yesterday"
      const dateError = yield* Effect.flip(importProfile(content, "own.json"))
      expect(dateError).toMatchObject({
        record: "posts[0] (id Cx7aQ2LrT1k)",
        field: "postedAt",
        detail: "expected a date-time string, got \"yesterday\""
      })

      content.posts[0].postedAt = "2024-05-01T16:30:00.000Z"
      content.posts[0].mediaType = "reel"
      const mediaError = yield* Effect.flip(importProfile(content, "own.json"))
      expect(mediaError.message).toBe(
        "own.json: posts[0] (id Cx7aQ2LrT1k).mediaType: expected \"image\" or " +
          "\"video\" or \"carousel\" or \"text\" or \"link\" or \"other\", " +
          "got \"reel\""
      )

      content.posts[0].mediaType = "image"
      content.profile.platform = "myspace"
      const profileError = yield* Effect.flip(importProfile(content, "own.json"))
      expect(profileError).toMatchObject({ record: "profile", field: "platform" })
    }))
})
