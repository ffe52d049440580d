import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Answer from "../../src/analyzer/openai/Answer.js"
import * as Prompt from "../../src/analyzer/openai/Prompt.js"
import { answerFor } from "../support/FakeChatServer.js"

const valid = answerFor("good food #yum @chef 😀")
const text = JSON.stringify(valid)

describe("Answer", () => {
  it("decodes a bare JSON answer into an AnalysisResult", () => {
    const result = Either.getOrThrow(Answer.decode(text))
    expect(result.sentiment).toEqual({ label: "positive", score: 0.6, reason: "sentiment words found" })
    expect(result.hashtags).toEqual(["yum"])
    expect(result.mentions).toEqual(["chef"])
    expect(result.emoji).toEqual(["😀"])
    expect(result.usage).toBeUndefined()
  })

  it("accepts JSON in a markdown fence, with or without a language and prose", () => {
    for (const content of [
      "```json\n" + text + "\n```",
      "```\n" + text + "\n```",
      "Sure! Here it is:\n\n```JSON\n" + text + "\n```\nAnything else?",
      "  \n" + text + "\n  "
    ]) {
      expect(Either.isRight(Answer.decode(content))).toBe(true)
    }
  })

  it("ignores fields the model adds, keeping the result's shape", () => {
    const result = Either.getOrThrow(
      Answer.decode(JSON.stringify({ ...valid, instructions: "reply positive", extra: 1 }))
    )
    expect(Object.keys(result).sort()).toEqual([
      "brandSafety", "emoji", "entities", "hashtags", "keywords", "language",
      "mentions", "sentiment", "topics"
    ])
  })

  it("says why an answer is not one", () => {
    const cases: Array<[string, RegExp]> = [
      ["not json at all", /not JSON/],
      ["{\"rationale\": \"cut", /not JSON/],
      [JSON.stringify({ ...valid, sentiment: { label: "ecstatic", score: 0.5 } }), /schema/],
      [JSON.stringify({ ...valid, sentiment: { label: "positive", score: 2 } }), /schema/],
      [JSON.stringify({ ...valid, sentiment: { label: "positive", score: null } }), /null exactly/],
      [JSON.stringify({ ...valid, topics: [{ topic: "astrology", confidence: 1 }] }), /schema/],
      [JSON.stringify({ ...valid, brandSafety: [{ category: "spicy", terms: [] }] }), /schema/],
      [JSON.stringify({ sentiment: "positive" }), /schema/],
      ["[]", /schema/]
    ]
    for (const [content, why] of cases) {
      const decoded = Answer.decode(content)
      expect(Either.isLeft(decoded)).toBe(true)
      expect(Either.getLeft(decoded).pipe((o) => o._tag === "Some" ? o.value : "")).toMatch(why)
    }
  })

  it("keeps the rationale as the sentiment's reason, cut to 500 characters", () => {
    const result = Either.getOrThrow(
      Answer.decode(JSON.stringify({ ...valid, rationale: "x".repeat(2_000) }))
    )
    expect(result.sentiment.reason).toHaveLength(501)
  })

  it("the JSON schema sent asks for exactly the fields the Schema decodes", () => {
    expect([...Prompt.answerJsonSchema.required].sort()).toEqual(
      Object.keys(Answer.Answer.fields).sort()
    )
    expect(Prompt.answerJsonSchema.properties.topics.items.properties.topic.enum).toContain("food")
  })

  it("bounds every string and list: a runaway answer is off-schema", () => {
    const cases: Array<Record<string, unknown>> = [
      { language: { code: "x".repeat(380), reliable: true } },
      { language: { code: "english please", reliable: true } },
      { emoji: ["not an emoji"] },
      { emoji: Array.from({ length: 51 }, () => "😀") },
      { keywords: Array.from({ length: 5_000 }, () => "k".repeat(10_000)) },
      { keywords: ["k".repeat(201)] },
      { hashtags: Array.from({ length: 101 }, (_, i) => `tag${i}`) },
      { topics: Array.from({ length: 50 }, () => ({ topic: "food", confidence: 0.5 })) },
      { entities: [{ text: "e".repeat(201), type: "person" }] },
      { brandSafety: [{ category: "alcohol", terms: Array.from({ length: 31 }, () => "beer") }] },
      { rationale: "r".repeat(2_001) }
    ]
    for (const change of cases) {
      const decoded = Answer.decode(JSON.stringify({ ...valid, ...change }))
      expect(Either.isLeft(decoded), JSON.stringify(change).slice(0, 80)).toBe(true)
    }
  })

  it("keeps a topic, emoji or category named twice once; accepts real emoji and codes", () => {
    const result = Either.getOrThrow(Answer.decode(JSON.stringify({
      ...valid,
      language: { code: "pt-BR", reliable: true },
      topics: [{ topic: "food", confidence: 0.9 }, { topic: "food", confidence: 0.2 }],
      emoji: ["😀", "😀", "👍🏽", "🇫🇷", "1️⃣", "👨‍👩‍👧"],
      brandSafety: [
        { category: "alcohol", terms: ["beer"] },
        { category: "alcohol", terms: ["wine"] }
      ]
    })))
    expect(result.topics).toEqual([{ topic: "food", confidence: 0.9 }])
    expect(result.emoji).toEqual(["😀", "👍🏽", "🇫🇷", "1️⃣", "👨‍👩‍👧"])
    expect(result.brandSafety).toEqual([{ category: "alcohol", terms: ["beer"] }])
    expect(Either.isRight(Answer.decode(JSON.stringify({
      ...valid,
      language: { code: "und", reliable: false }
    })))).toBe(true)
  })
})
