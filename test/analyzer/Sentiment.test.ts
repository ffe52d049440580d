import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadModels } from "../../src/analyzer/Models.js"
import { judge, polarity } from "../../src/analyzer/Sentiment.js"
import { normalizeText } from "../../src/analyzer/TextFeatures.js"

const scoreOf = (text: string) =>
  Effect.map(
    Effect.promise(loadModels),
    (models) => polarity(models.lexicon, normalizeText(text)).score
  )

const english = { code: "en", reliable: true }
const und = { code: "und", reliable: false }

describe("Sentiment", () => {
  it.effect("negates up to three words back, in forms wink does not know", () =>
    Effect.gen(function*() {
      expect(yield* scoreOf("The movie was good")).toBeGreaterThan(0)
      expect(yield* scoreOf("The movie didnt seem good")).toBeLessThan(0)
      expect(yield* scoreOf("I don’t like it")).toBeLessThan(0)
    }))

  it.effect("scores like only as the verb of liking", () =>
    Effect.gen(function*() {
      expect(yield* scoreOf("It looks like rain today")).toBe(0)
      expect(yield* scoreOf("I like rain")).toBeGreaterThan(0)
    }))

  it.effect("weighs the clause after but more", () =>
    Effect.gen(function*() {
      expect(yield* scoreOf("The start was good but the ending was terrible"))
        .toBeLessThan(0)
    }))

  it.effect("reads emoji whole, stretched words and camel-case hashtags", () =>
    Effect.gen(function*() {
      expect(yield* scoreOf("❤️")).toBeGreaterThan(0)
      expect(yield* scoreOf("sooo goood")).toBeGreaterThan(0)
      expect(yield* scoreOf("#SoHappy")).toBeGreaterThan(0)
    }))

  it.effect("ignores sentiment words inside names", () =>
    Effect.gen(function*() {
      expect(yield* scoreOf("Watching the Super Bowl at Best Buy")).toBe(0)
    }))

  it("labels within the neutral band neutral", () => {
    const result = judge({
      language: english,
      polarity: { score: 0.02, evidence: 1 },
      words: 10,
      englishWords: 10
    })
    expect(result.label).toBe("neutral")
    expect(result.score).toBe(0.02)
  })

  it("scores undetermined text when the lexicon finds something", () => {
    expect(judge({
      language: und,
      polarity: { score: 0.6, evidence: 2 },
      words: 0,
      englishWords: 0
    }).label).toBe("positive")
  })

  it("calls undetermined English words without sentiment neutral", () => {
    expect(judge({
      language: und,
      polarity: { score: 0, evidence: 0 },
      words: 2,
      englishWords: 2
    })).toEqual({
      label: "neutral",
      score: 0,
      reason: "no sentiment-bearing words or emoji"
    })
  })

  it("does not compute undetermined text that is not English", () => {
    expect(judge({
      language: und,
      polarity: { score: 0, evidence: 0 },
      words: 2,
      englishWords: 0
    })).toEqual({
      label: "not_computed",
      score: null,
      reason: "too little text to tell that it is English"
    })
  })
})
