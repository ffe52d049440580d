import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, TestClock } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  detectFormat,
  formats,
  importProfile,
  importProfileFile,
  importProfileJson
} from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = (name: string) => path.resolve(here, "../fixtures", name)
const shared = (name: string) =>
  path.resolve(here, "../../../shared/data/profiles", name)

const readJson = (file: string): unknown =>
  JSON.parse(readFileSync(file, "utf8"))

const importFile = (file: string) =>
  importProfileFile(file).pipe(Effect.provide(NodeFileSystem.layer))

describe("importProfileFile on real exports", () => {
  it.effect("imports a Reddit listing of 100 submissions", () =>
    Effect.gen(function*() {
      const imported = yield* importFile(shared("reddit-user-submissions.json"))

      expect(imported.profile.platform).toBe("reddit")
      expect(imported.profile.handle).toBe("sample_author")
      expect(imported.profile.followers).toBeNull()
      expect(imported.posts).toHaveLength(100)
      const first = imported.posts[0]!
      expect(first.platformPostId).toBe("434h6c")
      expect(first.caption.startsWith("Reddit in 2016\n\nHi All,")).toBe(true)
      expect(first.likes).toBe(2079)
      expect(first.comments).toBe(5771)
      expect(first.hashtags).toEqual(["announcements"])
      expect(first.mediaType).toBe("text")
      expect(first.postedAt.toISOString()).toBe("2016-01-28T18:05:43.000Z")
      expect(first.url).toBe(
        "https://www.reddit.com/r/announcements/comments/434h6c/reddit_in_2016/"
      )
    }))

  it.effect("imports a Twitter timeline of 20 tweets, text as written", () =>
    Effect.gen(function*() {
      const imported = yield* importFile(shared("twitter-user-timeline.json"))

      expect(imported.profile).toMatchObject({
        platform: "twitter",
        handle: "sample_brand",
        displayName: "Sample Brand",
        followers: 58778710,
        following: 28,
        postCount: 13993,
        verified: true
      })
      expect(imported.posts).toHaveLength(20)
      const tweet = imported.posts.find((p) =>
        p.platformPostId === "1341494971405373445"
      )!
      expect(tweet.caption).toBe("@user5 ah yes, tbt 1100")
      expect(tweet.mentions).toEqual(["user5"])
      expect(tweet.likes).toBe(184)
      expect(tweet.comments).toBe(0)
      expect(tweet.mediaType).toBe("text")
      expect(tweet.url).toBe(
        "https://twitter.com/sample_brand/status/1341494971405373445"
      )
      expect(imported.posts[0]!.caption).toBe("@user1 👀 https://t.co/1CZ6VbgaIL")
      expect(imported.posts[0]!.mediaType).toBe("image")
    }))
})

describe("detectFormat", () => {
  const cases = [
    ["own-format.json", "profile-insights"],
    ["instagram-web.json", "instagram-web"],
    ["apify-instagram.json", "apify-instagram"]
  ] as const

  const formatOf = (content: unknown) =>
    Either.map(detectFormat(content), (format) => format.name)

  for (const [file, format] of cases) {
    it(`recognises ${file} as ${format}`, () => {
      expect(formatOf(readJson(fixture(file)))).toEqual(Either.right(format))
    })
  }

  it("recognises the real Reddit and Twitter exports", () => {
    expect(formatOf(readJson(shared("reddit-user-submissions.json"))))
      .toEqual(Either.right("reddit-listing"))
    expect(formatOf(readJson(shared("twitter-user-timeline.json"))))
      .toEqual(Either.right("twitter-timeline"))
  })

  it("accepts the data.user wrapper of Instagram too", () => {
    expect(formatOf({ data: { user: { username: "lena" } } }))
      .toEqual(Either.right("instagram-web"))
  })
})

describe("content that does not fit", () => {
  it.effect("names every format tried for JSON of no known format", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(importFile(fixture("unknown-shape.json")))

      expect(error._tag).toBe("UnknownFormat")
      if (error._tag !== "UnknownFormat") return
      expect(error.source).toBe(fixture("unknown-shape.json"))
      expect(error.tried.map((t) => t.format)).toEqual([
        "profile-insights",
        "instagram-web",
        "apify-instagram",
        "twitter-timeline",
        "reddit-listing"
      ])
      expect(error.tried.map((t) => t.format))
        .toEqual(formats.map((f) => f.name))
      for (const { reason } of error.tried) expect(reason).not.toBe("")
    }))

  it.effect("says an empty array has nothing to tell the format by", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(importProfile([], "empty.json"))
      expect(error._tag).toBe("UnknownFormat")
      expect(error.message).toContain("empty array")
    }))

  it.effect("reports malformed JSON with the file, line and column", () =>
    Effect.gen(function*() {
      const file = fixture("malformed.json")
      const error = yield* Effect.flip(importFile(file))

      expect(error._tag).toBe("InvalidInput")
      if (error._tag !== "InvalidInput") return
      expect(error.source).toBe(file)
      expect(error.detail).toBe(
        "not valid JSON at line 8, column 5: expected ',' or ']', got \"{\""
      )
      expect(error.message.startsWith(`${file}: not valid JSON`)).toBe(true)
    }))

  it.effect("reports truncated JSON text", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        importProfileJson("{\"profile\": {\"handle\": \"a\"", "upload")
      )
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        source: "upload",
        detail: "not valid JSON at line 1, column 27: " +
          "expected ',' or '}', got the end of the text"
      })
    }))

  it.effect("reports a file that cannot be read", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(importFile(fixture("no-such-file.json")))
      expect(error._tag).toBe("InvalidInput")
      expect(error.message).toContain("cannot read the file")
    }))
})

describe("fetchedAt", () => {
  it.effect("is the clock's time for exports that do not carry it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-03-01T12:00:00.000Z"))
      const imported = yield* importFile(fixture("instagram-web.json"))
      expect(imported.profile.fetchedAt.toISOString())
        .toBe("2025-03-01T12:00:00.000Z")
    }))
})
