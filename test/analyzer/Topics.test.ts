import { describe, expect, it } from "@effect/vitest"
import { categories, topicsOf } from "../../src/analyzer/Topics.js"

const input = (words: Array<string>, hashtags: Array<string> = []) => ({
  terms: new Set(words),
  text: words.join(" "),
  hashtags
})

describe("Topics", () => {
  it("keeps a list of 15 to 25 categories with unique ids", () => {
    const ids = categories.map((c) => c.topic)
    expect(ids.length).toBeGreaterThanOrEqual(15)
    expect(ids.length).toBeLessThanOrEqual(25)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it("maps hashtags by stem and words by keyword", () => {
    expect(topicsOf(input(["morning", "run"], ["fitfam", "marathontraining"])))
      .toEqual([{ topic: "fitness", confidence: 0.86 }])
    expect(topicsOf(input(["my", "puppy", "loves", "the", "vet"])))
      .toEqual([{ topic: "pets", confidence: 0.63 }])
  })

  it("matches keyword phrases", () => {
    expect(topicsOf(input(["watching", "the", "world", "cup", "final"])))
      .toEqual([{ topic: "sports", confidence: 0.39 }])
  })

  it("finds nothing in text without topic words", () => {
    expect(topicsOf(input(["what", "a", "day"]))).toEqual([])
  })
})
