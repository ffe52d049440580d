import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { brandSafetyOf } from "../../src/analyzer/BrandSafety.js"
import { loadModels } from "../../src/analyzer/Models.js"

const flagsOf = (text: string, hashtags: Array<string> = []) =>
  Effect.map(Effect.promise(loadModels), (models) =>
    brandSafetyOf(models.profanity, {
      text,
      terms: new Set(text.toLowerCase().match(/\p{L}+/gu) ?? []),
      hashtags
    }))

describe("BrandSafety", () => {
  it.effect("catches disguised profanity and the project's insults", () =>
    Effect.gen(function*() {
      expect(yield* flagsOf("what a fuuuck, you idiot"))
        .toEqual([{ category: "profanity", terms: ["fuck", "idiot"] }])
    }))

  it.effect("matches hashtag beginnings and phrases", () =>
    Effect.gen(function*() {
      expect(yield* flagsOf("Friday happy hour at the casino", ["beerlover"]))
        .toEqual([
          { category: "alcohol", terms: ["#beer", "happy hour"] },
          { category: "gambling", terms: ["casino"] }
        ])
    }))

  it.effect("files sexual words under adult, slurs under hate", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf("porn and a slur: kike")
      expect(flags.map((f) => f.category)).toEqual(["adult", "hate"])
    }))

  it.effect("leaves ordinary words and hashtags alone", () =>
    Effect.gen(function*() {
      expect(yield* flagsOf("the pen is mightier than the sword, grapes are nice"))
        .toEqual([])
      expect(yield* flagsOf("", ["gorgeous", "heroine", "method", "skills"]))
        .toEqual([])
    }))
})
