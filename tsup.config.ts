import { defineConfig } from "tsup"

export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      sqlite: "adapters/sqlite/index.ts",
      postgres: "adapters/postgres/index.ts",
      client: "client/index.ts"
    },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20"
  },
  {
    entry: { cli: "examples/cli/main.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20"
  }
])
