import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as OpenAiAnalyzer from "../../src/analyzer/OpenAiAnalyzer.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const read = (file: string) => fs.readFileSync(path.resolve(here, "../..", file), "utf8")
const docs = read("docs/llm-analyzer.md")

describe("docs/llm-analyzer.md", () => {
  it("documents every PROFILE_INSIGHTS_OPENAI_* variable the analyzer reads", () => {
    const names = new Set(
      read("src/analyzer/OpenAiAnalyzer.ts").match(/PROFILE_INSIGHTS_OPENAI_[A-Z0-9_]+/g)
    )
    expect(names.size).toBeGreaterThan(15)
    for (const name of names) {
      expect(docs).toContain(`| \`${name.replace("PROFILE_INSIGHTS_OPENAI_", "")}\` |`)
    }
  })

  it("shows the version format", () => {
    expect(docs).toContain(`\`${OpenAiAnalyzer.versionOf("gpt-4o-mini")}\``)
  })
})
