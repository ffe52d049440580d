/**
 * The accuracy benchmark's endpoint mode, end to end: the real script in a
 * child process against the fake server (a deterministic "model"), on a
 * small sample. Its figures mean nothing; the test checks that the mode
 * runs, calls the endpoint once per text and writes its results file.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { labeled } from "../../bench/analyzer-accuracy/Data.js"
import * as Fake from "../support/FakeChatServer.js"

const hasData = fs.existsSync(labeled)

describe.skipIf(!hasData)("bench/analyzer-accuracy --analyzer openai", () => {
  it.scopedLive("runs against an OpenAI-compatible endpoint and writes results-<model>.md", () =>
    Effect.gen(function* () {
      const server = yield* Fake.scoped({ script: Fake.valid })
      const out = fs.mkdtempSync(path.join(tmpdir(), "pi-bench-"))
      const { stdout } = yield* Effect.promise(() =>
        new Promise<{ stdout: string }>((resolve, reject) =>
          execFile(
            process.execPath,
            ["--import", "tsx", "bench/analyzer-accuracy/run.ts", "--analyzer", "openai",
              "--limit", "14", "--out", out],
            {
              env: {
                ...process.env,
                PROFILE_INSIGHTS_OPENAI_BASE_URL: server.baseUrl,
                PROFILE_INSIGHTS_OPENAI_MODEL: "fake/model:1",
                PROFILE_INSIGHTS_OPENAI_API_KEY: "sk-bench-secret",
                PROFILE_INSIGHTS_OPENAI_REQUESTS_PER_MINUTE: "0",
                PROFILE_INSIGHTS_OPENAI_TOKENS_PER_MINUTE: "0",
                PROFILE_INSIGHTS_OPENAI_PROMPT_PRICE_PER_1K: "0.5"
              },
              timeout: 50_000
            },
            (error, stdout, stderr) =>
              error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve({ stdout })
          )
        )
      )
      expect(stdout).toMatch(/self-check: vader-sentiment r = 0\.87/)

      // 14 VADER + 14 sentiment + 14 offensive + 2 per XLM-T language.
      expect(server.calls()).toHaveLength(14 + 14 + 14 + 7 * 2)
      expect(server.calls()[0]!.headers.authorization).toBe("Bearer sk-bench-secret")
      const figures = JSON.parse(fs.readFileSync(path.join(out, "results-fake-model-1.json"), "utf8"))
      expect(figures.analyzer.version).toBe("openai-1/fake/model:1/prompt-1")
      expect(figures.vader.tweets).toBe(14)
      expect(figures.languageId.tweets).toBe(14)
      expect(figures.usage.requests).toBe(56)
      expect(figures.usage.costUsd).toBeGreaterThan(0)
      expect(figures.failures).toEqual({})
      const markdown = fs.readFileSync(path.join(out, "results-fake-model-1.md"), "utf8")
      expect(markdown).toMatch(/^# Analyzer accuracy: fake\/model:1/)
      expect(markdown).toMatch(/\| Macro-F1, offensive \|/)
      expect(markdown).not.toContain("sk-bench-secret")
    }), 60_000)
})
