import { describe, expect, it } from "@effect/vitest"
import {
  hashtagsIn,
  mentionsIn,
  redditUsersIn,
  unescapeHtml
} from "../../src/import/CaptionText.js"

describe("CaptionText", () => {
  it("finds hashtags in any script, once each, without numbers alone", () => {
    expect(hashtagsIn("Día de #tapas en #Madrid 🇪🇸 #tapas #TAPAS #1 #café_con_leche"))
      .toEqual(["tapas", "Madrid", "café_con_leche"])
    expect(hashtagsIn("issue#12 and abc#def and &#39;")).toEqual([])
  })

  it("finds mentions but not e-mail addresses or a trailing dot", () => {
    expect(mentionsIn("Thanks @hoian.eats. Mail me@example.com or @Lena_M!"))
      .toEqual(["hoian.eats", "Lena_M"])
  })

  it("finds Reddit u/ mentions", () => {
    expect(redditUsersIn("cc /u/spez, u/kn0thing and not nu/foo"))
      .toEqual(["spez", "kn0thing"])
  })

  it("undoes HTML escaping once", () => {
    expect(unescapeHtml("a &amp;lt; b &lt; c &amp;&amp; d")).toBe("a &lt; b < c && d")
  })
})
