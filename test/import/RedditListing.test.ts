import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { importProfile } from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const listing = (): any =>
  JSON.parse(readFileSync(
    path.resolve(here, "../../../shared/data/profiles/reddit-user-submissions.json"),
    "utf8"
  ))

describe("RedditListing", () => {
  it.effect("maps link posts, the subreddit and media hints", () =>
    Effect.gen(function*() {
      const imported = yield* importProfile(listing(), "reddit.json")
      const byId = (id: string) => imported.posts.find((p) => p.platformPostId === id)

      expect(byId("3dk1jh")).toMatchObject({
        caption: "TIL it's Orville Redenbacher's birthday.",
        hashtags: ["todayilearned"],
        mediaType: "link",
        likes: 239,
        comments: 301,
        views: null
      })
      expect(byId("3tlcil")?.mediaType).toBe("text")
      expect(imported.posts.filter((p) => p.mediaType === "text")).toHaveLength(17)
    }))

  it.effect("names the child and field of a wrong value", () =>
    Effect.gen(function*() {
      const content = listing()
      content.data.children[7].data.num_comments = -1
      const error = yield* Effect.flip(importProfile(content, "reddit.json"))
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        source: "reddit.json",
        record: "children[7] (id 3djjxw)",
        field: "num_comments",
        detail: "expected a non-negative integer, got -1"
      })
    }))

  it.effect("accepts only submissions", () =>
    Effect.gen(function*() {
      const content = listing()
      content.data.children[2].kind = "t1"
      const error = yield* Effect.flip(importProfile(content, "reddit.json"))
      expect(error).toMatchObject({
        record: "children[2] (id 3tlcil)",
        field: "kind",
        detail: "expected \"t3\", got \"t1\""
      })
    }))

  it.effect("rejects posts of two authors and repeated posts", () =>
    Effect.gen(function*() {
      const content = listing()
      content.data.children[9].data.author = "someone_else"
      const authorError = yield* Effect.flip(importProfile(content, "reddit.json"))
      expect(authorError).toMatchObject({
        record: "children[9] (id 3cxedn)",
        field: "author"
      })

      const repeated = listing()
      repeated.data.children.push(repeated.data.children[0])
      const duplicateError = yield* Effect.flip(importProfile(repeated, "reddit.json"))
      expect(duplicateError).toMatchObject({
        record: "children[100] (id 434h6c)",
        field: "id"
      })
    }))

  it.effect("unescapes HTML and finds u/ mentions", () =>
    Effect.gen(function*() {
      const content = listing()
      content.data.children = [content.data.children[0]]
      content.data.children[0].data.title = "Q&amp;A with /u/spez &amp; u/kn0thing"
      content.data.children[0].data.selftext = ""
      const imported = yield* importProfile(content, "reddit.json")
      expect(imported.posts[0]).toMatchObject({
        caption: "Q&A with /u/spez & u/kn0thing",
        mentions: ["spez", "kn0thing"]
      })
    }))
})
