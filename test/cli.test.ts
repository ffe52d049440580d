/**
 * The profile-insights command, run as a child process on real exports.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { resolve } from "node:path"
import { promisify } from "node:util"
import { tempDatabase } from "./support/Storage.js"

const root = resolve(import.meta.dirname, "..")
const shared = resolve(root, "../shared/data/profiles")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = async (...args: ReadonlyArray<string>): Promise<Run> => {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", resolve(root, "examples/cli/main.ts"), ...args],
      { cwd: root, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 }
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }
  }
}

describe("profile-insights analyze", () => {
  it("analyses all 100 posts of the real Reddit listing and prints insights", async () => {
    const file = resolve(shared, "reddit-user-submissions.json")
    const run = await cli("analyze", file, "--db", tempDatabase())
    expect(run.code).toBe(0)
    expect(run.stderr).toContain("Progress: 100% (100/100 posts processed)")
    expect(run.stdout).toContain("@sample_author on reddit · followers unknown")
    expect(run.stdout).toContain("Analysed 100 of 100 posts")
    expect(run.stdout).toMatch(/Sentiment\s+positive \d+ · neutral \d+ · negative \d+/)
  })

  it("gives 20 tweets of the real timeline, most undetermined and the rest English", async () => {
    const run = await cli(
      "analyze",
      resolve(shared, "twitter-user-timeline.json"),
      "--db",
      tempDatabase(),
      "--json"
    )
    expect(run.code).toBe(0)
    const { insights } = JSON.parse(run.stdout)
    expect(insights.posts).toEqual({ total: 20, analysed: 20, failed: 0 })
    const languages = Object.fromEntries(
      insights.languages.map((l: { code: string; posts: number }) => [l.code, l.posts])
    )
    expect(Object.keys(languages).sort()).toEqual(["en", "und"])
    expect(languages.und).toBeGreaterThan(10)
    expect(languages.und + languages.en).toBe(20)
    // Sentiment is computed for every English post; of the undetermined
    // ones, only those whose words or emoji the lexicon knows get a label.
    const d = insights.sentiment.distribution
    expect(d.positive + d.neutral + d.negative).toBeGreaterThanOrEqual(languages.en)
    expect(d.notComputed).toBeGreaterThan(0)
  })

  it("prints the sample profile's insights as a summary", async () => {
    const run = await cli("analyze", "examples/data/sample-profile.json", "--db", tempDatabase())
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("@lena.cooks.abroad on instagram · 48,210 followers")
    expect(run.stdout).toContain("Analysed 12 of 12 posts")
    expect(run.stdout).toMatch(/Brand safety.*alcohol/)
  })

  it("exits 2 with one line naming the file, record and field on bad input", async () => {
    const bad = resolve(root, "test/fixtures/apify-instagram-negative-likes.json")
    const run = await cli("analyze", bad, "--db", tempDatabase())
    expect(run.code).toBe(2)
    expect(run.stdout).toBe("")
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/apify-instagram-negative-likes\.json: posts\[\d+\].*likesCount/)
  })

  it("exits 2 listing the formats tried when none fits", async () => {
    const run = await cli("analyze", "package.json", "--db", tempDatabase())
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toContain("tried profile-insights")
    expect(run.stderr).toContain("reddit-listing")
  })

  it("exits 2 when the file does not exist", async () => {
    const run = await cli("analyze", "no/such/file.json", "--db", tempDatabase())
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^profile-insights: no\/such\/file\.json: cannot read the file/)
  })
})
