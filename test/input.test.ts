import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Insights, Job } from "../src/index.js"
import * as ScriptedAnalyzer from "./support/ScriptedAnalyzer.js"
import { libraryLayer, ownProfile, twelveCaptions } from "./support/Fixtures.js"
import { sqlite } from "./support/Storage.js"

const withApi = <A, E>(body: (api: Insights.InsightsShape) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const analyzer = yield* ScriptedAnalyzer.make()
    const database = yield* sqlite.fresh
    return yield* Effect.flatMap(Insights.Insights, body).pipe(
      Effect.provide(libraryLayer(database(), analyzer.layer))
    )
  })

describe("bad input is refused before anything is stored", () => {
  it.live("a NUL character in a caption names the post and field", () =>
    withApi((api) =>
      Effect.gen(function* () {
        const content = ownProfile("nul", ["fine", "bad \u0000 caption"])
        const error = yield* Effect.flip(api.importProfile("alice", content, "nul.json"))
        expect(error._tag).toBe("InvalidInput")
        expect(error.message).toMatch(/^nul\.json: posts\[1\].*caption: .*NUL/)
      })
    )
  )

  it.live("submit options a JavaScript caller got wrong record no job", () =>
    withApi((api) =>
      Effect.gen(function* () {
        const { profile } = yield* api.importProfile("alice", ownProfile("opts", twelveCaptions))
        for (const bad of [
          { kind: "bogus" },
          { priority: Number.NaN },
          { runAfter: new Date("x") },
          { maxAttempts: 0 }
        ]) {
          const error = yield* Effect.flip(api.submit("alice", profile.id, bad as never))
          expect(error).toMatchObject({ _tag: "InvalidInput", record: "submit options" })
          expect(error.message).toContain(Object.keys(bad)[0])
        }
        expect(yield* api.latestJob("alice", profile.id)).toEqual(Option.none())
        const job = yield* api.submit("alice", profile.id)
        expect((yield* api.awaitJob("alice", job.id)).status).toBe("succeeded")
      })
    )
  )
})

describe("Job progress", () => {
  it("never rounds a count up or across a float error", () => {
    const job = (done: number, total: number) =>
      new Job({
        id: "j",
        kind: "analyze",
        profileId: "p",
        owner: "o",
        status: "running",
        done,
        failed: 0,
        total,
        attempt: 1,
        maxAttempts: 5,
        leaseHolder: null,
        leaseExpiresAt: null,
        epoch: 1,
        runAfter: new Date(0),
        priority: 0,
        lastError: null,
        createdAt: new Date(0),
        updatedAt: new Date(0),
        finishedAt: null
      })
    expect(job(29, 100).progressLine).toBe("Progress: 29% (29/100 posts processed)")
    expect(job(57, 100).percent).toBe(57)
    expect(job(2, 3).percent).toBe(66)
    expect(job(99, 100).percent).toBe(99)
    expect(job(12, 12).percent).toBe(100)
  })
})
