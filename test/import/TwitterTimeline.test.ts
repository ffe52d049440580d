import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { importProfile } from "../../src/import/ProfileImporter.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const timeline = (): any =>
  JSON.parse(readFileSync(
    path.resolve(here, "../../../shared/data/profiles/twitter-user-timeline.json"),
    "utf8"
  ))

describe("TwitterTimeline", () => {
  it.effect("keeps every tweet whatever its lang, text as written", () =>
    Effect.gen(function*() {
      const tweets = timeline()
      const imported = yield* importProfile(tweets, "timeline.json")

      expect(imported.posts.map((p) => p.caption))
        .toEqual(tweets.map((t: any) => t.text))
      const languages = new Set(tweets.map((t: any) => t.lang))
      expect(languages).toEqual(new Set(["und", "en", "in"]))
      expect(imported.posts.find((p) => p.platformPostId === "1341398683594715138"))
        .toMatchObject({ caption: "roast 2020. go.", likes: 140015, mediaType: "text" })
    }))

  it.effect("prefers full_text, unescapes HTML and reads entities", () =>
    Effect.gen(function*() {
      const [tweet] = timeline()
      tweet.full_text = "Fish &amp; chips &lt;3 #FridayFeeling @user1"
      tweet.entities.hashtags = [{ text: "FridayFeeling", indices: [20, 34] }]
      tweet.reply_count = 12
      tweet.extended_entities.media.push({ type: "video" })
      const imported = yield* importProfile([tweet], "timeline.json")

      expect(imported.posts[0]).toMatchObject({
        caption: "Fish & chips <3 #FridayFeeling @user1",
        hashtags: ["FridayFeeling"],
        mentions: ["user1"],
        comments: 12,
        mediaType: "carousel"
      })
    }))

  it.effect("names the tweet and field of a bad date", () =>
    Effect.gen(function*() {
      const tweets = timeline()
      tweets[4].created_at = "2020-12-23"
      const error = yield* Effect.flip(importProfile(tweets, "timeline.json"))
      expect(error).toMatchObject({
        _tag: "InvalidInput",
        record: "tweets[4] (id 1341494971405373445)",
        field: "created_at",
        detail: "expected a date like \"Wed Dec 23 17:12:08 +0000 2020\", " +
          "got \"2020-12-23\""
      })
    }))

  it.effect("rejects a timeline of two users", () =>
    Effect.gen(function*() {
      const tweets = timeline()
      tweets[7].user = { ...tweets[7].user, screen_name: "other_brand" }
      const error = yield* Effect.flip(importProfile(tweets, "timeline.json"))
      expect(error).toMatchObject({
        record: "tweets[7] (id 1341477210918629376)",
        field: "user.screen_name"
      })
    }))

  it.effect("rejects a tweet that appears twice", () =>
    Effect.gen(function*() {
      const tweets = timeline()
      tweets.push(tweets[2])
      const error = yield* Effect.flip(importProfile(tweets, "timeline.json"))
      expect(error).toMatchObject({
        record: "tweets[20] (id 1341513367601754112)",
        field: "id_str"
      })
    }))
})
