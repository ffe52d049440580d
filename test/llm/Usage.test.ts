import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { aggregate } from "../../src/Aggregate.js"
import { AnalysisResult, type AnalysisUsage, Post, PostAnalysis, Profile } from "../../src/Domain.js"
import * as Usage from "../../src/Usage.js"
import { result } from "../support/ScriptedAnalyzer.js"

const profile = new Profile({
  id: "p", owner: "o", platform: "instagram", handle: "h", displayName: null, bio: null,
  followers: 10, following: null, postCount: null, verified: false, fetchedAt: new Date(0)
})
const post = (id: string) =>
  new Post({
    id, profileId: "p", platformPostId: id, caption: "good", hashtags: [], mentions: [],
    mediaType: "image", likes: 1, comments: 0, views: null, postedAt: new Date(0), url: null
  })
const analysed = (id: string, usage?: AnalysisUsage) =>
  new PostAnalysis({
    postId: id, analyzerId: "a", analyzerVersion: "v", analyzedAt: new Date(1),
    outcome: {
      _tag: "Analysed",
      result: usage === undefined ? result("good") : new AnalysisResult({ ...result("good"), usage })
    }
  })
const failed = (id: string) =>
  new PostAnalysis({
    postId: id, analyzerId: "a", analyzerVersion: "v", analyzedAt: new Date(1),
    outcome: { _tag: "Failed", failure: { reason: "InvalidOutput", message: "x", attempts: 1 } }
  })

describe("usage", () => {
  it("sums metered analyses; failures and unmetered ones carry none", () => {
    const analyses = [
      analysed("1", { requests: 1, promptTokens: 400, completionTokens: 60, costUsd: 0.000096 }),
      analysed("2", { requests: 3, promptTokens: 1_200, completionTokens: 180, costUsd: 0.000288 }),
      analysed("3"),
      failed("4")
    ]
    expect(Usage.ofAnalyses(analyses)).toEqual(Option.some({
      posts: 2, requests: 4, promptTokens: 1_600, completionTokens: 240, costUsd: 0.000384
    }))
    const insights = aggregate({
      profile, posts: ["1", "2", "3", "4"].map(post), analyses,
      analyzerId: "a", analyzerVersion: "v", now: new Date(2)
    })
    expect(insights.usage).toEqual(Option.getOrThrow(Usage.ofAnalyses(analyses)))
  })

  it("insights of an unmetered analyzer have no usage", () => {
    const insights = aggregate({
      profile, posts: [post("1")], analyses: [analysed("1")],
      analyzerId: "a", analyzerVersion: "v", now: new Date(2)
    })
    expect(insights.usage).toBeUndefined()
    expect("usage" in insights).toBe(false)
    expect(Usage.total([])).toEqual(Option.none())
  })
})
