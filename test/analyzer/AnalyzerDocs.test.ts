import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { brandSafetyCategories } from "../../src/analyzer/BrandSafety.js"
import { version } from "../../src/analyzer/EmbeddedAnalyzer.js"
import { categories } from "../../src/analyzer/Topics.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const docs = fs.readFileSync(path.resolve(here, "../../docs/analyzer.md"), "utf8")

describe("docs/analyzer.md", () => {
  it("lists every topic category", () => {
    for (const category of categories) {
      expect(docs).toContain(`| \`${category.topic}\` | ${category.label} |`)
    }
  })

  it("lists every brand-safety category", () => {
    for (const category of brandSafetyCategories) {
      expect(docs).toContain(`| \`${category}\` |`)
    }
  })

  it("names the current analyzer version", () => {
    expect(docs).toContain(`\`${version}\``)
  })
})
