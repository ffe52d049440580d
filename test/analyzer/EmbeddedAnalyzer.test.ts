import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Analyzer } from "../../src/Analyzer.js"
import { Post } from "../../src/Domain.js"
import { EmbeddedAnalyzer, fromModels } from "../../src/analyzer/EmbeddedAnalyzer.js"
import { loadModels } from "../../src/analyzer/Models.js"

const post = (caption: string, extra: Partial<Post> = {}) =>
  new Post({
    id: "post-1",
    profileId: "profile-1",
    platformPostId: "1",
    caption,
    hashtags: [],
    mentions: [],
    mediaType: "image",
    likes: 0,
    comments: 0,
    views: null,
    postedAt: new Date("2024-05-01T12:00:00Z"),
    url: null,
    ...extra
  })

const analyze = (caption: string, extra: Partial<Post> = {}) =>
  Effect.flatMap(Analyzer, (analyzer) => analyzer.analyze(post(caption, extra)))

describe("EmbeddedAnalyzer", () => {
  it.layer(EmbeddedAnalyzer.layer)((it) => {
    it.effect("has the id embedded and a version that names it", () =>
      Effect.gen(function*() {
        const analyzer = yield* Analyzer
        expect(analyzer.id).toBe("embedded")
        expect(analyzer.version).toMatch(/^embedded-\d+\.\d+\.\d+/)
      }))

    it.effect("reads a clearly positive English caption as positive", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "I absolutely love this place, the staff were amazing and so kind! 😍"
        )
        expect(result.language).toEqual({ code: "en", reliable: true })
        expect(result.sentiment.label).toBe("positive")
        expect(result.sentiment.score).toBeGreaterThan(0.3)
      }))

    it.effect("reads a clearly negative English caption as negative", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "Worst service ever. The food was cold, the waiter was rude and I am " +
            "furious."
        )
        expect(result.sentiment.label).toBe("negative")
        expect(result.sentiment.score).toBeLessThan(-0.3)
      }))

    it.effect("does not compute sentiment for Spanish or French captions", () =>
      Effect.gen(function*() {
        const spanish = yield* analyze(
          "Qué día tan bonito en la playa con mis amigos, me encanta el verano"
        )
        expect(spanish.language).toEqual({ code: "es", reliable: true })
        expect(spanish.sentiment).toEqual({
          label: "not_computed",
          score: null,
          reason: "written in \"es\"; sentiment is read in English only"
        })
        const french = yield* analyze(
          "Une belle journée à Paris avec mes amis, nous avons mangé des croissants"
        )
        expect(french.language).toEqual({ code: "fr", reliable: true })
        expect(french.sentiment.label).toBe("not_computed")
        expect(french.sentiment.score).toBeNull()
      }))

    it.effect("calls a short reply with a link undetermined, not French", () =>
      Effect.gen(function*() {
        const result = yield* analyze("@user1 👀 https://t.co/1CZ6VbgaIL")
        expect(result.language).toEqual({ code: "und", reliable: false })
        expect(result.sentiment.label).toBe("not_computed")
        expect(result.mentions).toEqual(["user1"])
        expect(result.emoji).toEqual(["👀"])
      }))

    it.effect("extracts hashtags, mentions and whole emoji", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "Sunday brunch with @anna_k and @hoian.eats ❤️👍🏽 #Brunch #été #brunch",
          { hashtags: ["weekend"], mentions: ["Anna_K"] }
        )
        expect(result.hashtags).toEqual(["weekend", "Brunch", "été"])
        expect(result.mentions).toEqual(["Anna_K", "hoian.eats"])
        expect(result.emoji).toEqual(["❤️", "👍🏽"])
      }))

    it.effect("finds dates, money and names as entities", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "We met Sarah Jones in Brooklyn on March 3rd and paid $25 for tickets."
        )
        expect(result.entities).toEqual(expect.arrayContaining([
          { text: "March 3rd", type: "DATE" },
          { text: "$25", type: "MONEY" },
          { text: "Sarah Jones", type: "NAME" },
          { text: "Brooklyn", type: "NAME" }
        ]))
        expect(result.keywords).toContain("ticket")
      }))

    it.effect("gives a food caption the topic food", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "Homemade ramen tonight, the broth took six hours 🍜 #foodie #recipe"
        )
        expect(result.topics[0]).toEqual({ topic: "food", confidence: 0.92 })
      }))

    it.effect("flags beer as alcohol and swearing as profanity", () =>
      Effect.gen(function*() {
        const result = yield* analyze(
          "Cold beer with the boys, this is fucking great"
        )
        expect(result.brandSafety).toEqual([
          { category: "alcohol", terms: ["beer"] },
          { category: "profanity", terms: ["fuck"] }
        ])
      }))

    it.effect("leaves a clean caption unflagged", () =>
      Effect.gen(function*() {
        const result = yield* analyze("Morning walk in the park with my dog")
        expect(result.brandSafety).toEqual([])
        expect(result.topics.map((t) => t.topic)).toContain("pets")
      }))

    it.effect("handles an empty caption", () =>
      Effect.gen(function*() {
        const result = yield* analyze("")
        expect(result).toMatchObject({
          sentiment: { label: "not_computed", score: null },
          language: { code: "und", reliable: false },
          topics: [],
          hashtags: [],
          mentions: [],
          emoji: [],
          entities: [],
          keywords: [],
          brandSafety: []
        })
      }))

    it.effect("scores an emoji-only caption from its emoji", () =>
      Effect.gen(function*() {
        const result = yield* analyze("😍😍🔥")
        expect(result.language.code).toBe("und")
        expect(result.sentiment.label).toBe("positive")
      }))
  })

  it.effect("fails with Rejected when analysis throws", () =>
    Effect.gen(function*() {
      const models = yield* Effect.promise(loadModels)
      const analyzer = fromModels({
        ...models,
        detector: {
          detect: () => {
            throw new Error("detector broke")
          }
        }
      })
      const error = yield* Effect.flip(
        analyzer.analyze(post("Hello there, friends"))
      )
      expect(error._tag).toBe("AnalyzerError")
      expect(error.reason).toBe("Rejected")
      expect(error.detail).toContain("detector broke")
    }))
})
