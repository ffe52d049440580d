import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { detectLanguage, proseOf } from "../../src/analyzer/LanguageId.js"
import { loadModels } from "../../src/analyzer/Models.js"

const languageOf = (text: string) =>
  Effect.map(Effect.promise(loadModels), (m) => detectLanguage(m.detector, text))

describe("LanguageId", () => {
  it("reads only the prose of a caption", () => {
    expect(proseOf("RT @user: Tapas en #Madrid 🇪🇸 https://t.co/x 2x1 hoy 👍🏽"))
      .toBe("Tapas en hoy")
  })

  it.effect("identifies captions with enough prose", () =>
    Effect.gen(function*() {
      expect(yield* languageOf("Das Wetter ist heute wirklich schön in Berlin"))
        .toEqual({ code: "de", reliable: true })
      expect(yield* languageOf("Il pranzo della domenica con tutta la famiglia"))
        .toEqual({ code: "it", reliable: true })
      expect(yield* languageOf("ایک نیا دن، نئی امیدیں اور نئے خواب"))
        .toEqual({ code: "ur", reliable: true })
    }))

  it.effect("calls short or link-only text und", () =>
    Effect.gen(function*() {
      const und = { code: "und", reliable: false }
      expect(yield* languageOf("@user1 👀 https://t.co/1CZ6VbgaIL")).toEqual(und)
      expect(yield* languageOf("Merci beaucoup!")).toEqual(und)
      expect(yield* languageOf("#foodie #travel #tokyo")).toEqual(und)
      expect(yield* languageOf("")).toEqual(und)
    }))
})
