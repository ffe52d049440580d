/**
 * Test programs bundled with esbuild, so that a child process runs as
 * `node <bundle>`: under a second to ready instead of several through the
 * tsx loader, which resolves each of effect's modules through its hooks.
 * Node is then the program's own process, with no loader between it and a
 * signal.
 *
 * A bundle is a directory under node_modules/.cache/<cache>, inside the
 * repository so that the packages left out of it resolve from its
 * node_modules, holding `<name>.mjs` for each entry point. The directory is
 * named after a hash of the bundle's source directories, package-lock.json,
 * this file and the build options: rebuilt when any of them changes, reused
 * otherwise. Several processes may ask for the same bundle at once: each
 * builds into a directory of its own and renames it into place, and a
 * process that loses the race uses the winner's. Bundles unused for an hour
 * are removed.
 */
import { createHash, randomUUID } from "node:crypto"
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync
} from "node:fs"
import { readFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type * as Esbuild from "esbuild"

export interface Bundle {
  /** The directory under node_modules/.cache that holds these bundles. */
  readonly cache: string
  /** Entry points by name: `<name>.mjs` runs `entries[name]`. */
  readonly entries: Readonly<Record<string, string>>
  /**
   * Every directory, relative to the repository, that the bundled code
   * comes from; their files name the bundle.
   */
  readonly sources: ReadonlyArray<string>
  /**
   * Packages loaded from node_modules at run time rather than bundled.
   * Default: the native database drivers.
   */
  readonly external?: ReadonlyArray<string> | undefined
  /** Puts the code the entries share in chunks. Default false. */
  readonly splitting?: boolean | undefined
  /**
   * Keeps `import.meta.url` (and dirname, filename) in the project's own
   * files naming the source file, so paths resolved from it are the same
   * as when run from source. Default false.
   */
  readonly sourceImportMeta?: boolean | undefined
}

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const unusedFor = 3_600_000

const bundleHash = (bundle: Bundle): string => {
  const hash = createHash("sha256")
  const visit = (path: string) => {
    const entries = readdirSync(path, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const child = join(path, entry.name)
      if (entry.isDirectory()) visit(child)
      else if (/\.(ts|tsx|mts|json)$/.test(entry.name)) {
        hash.update(child).update(readFileSync(child))
      }
    }
  }
  for (const dir of bundle.sources) visit(join(repoRoot, dir))
  hash.update(readFileSync(join(repoRoot, "package-lock.json")))
  hash.update(readFileSync(fileURLToPath(import.meta.url)))
  hash.update(JSON.stringify({ ...bundle, sources: undefined, cache: undefined }))
  return hash.digest("hex").slice(0, 16)
}

const sourceImportMeta: Esbuild.Plugin = {
  name: "source-import-meta",
  setup: (build) => {
    build.onLoad({ filter: /\.(ts|tsx|mts)$/ }, async (args) => {
      if (args.path.includes("/node_modules/")) return undefined
      const source = await readFile(args.path, "utf8")
      const contents = source
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(dirname(args.path)))
        .replaceAll("import.meta.filename", JSON.stringify(args.path))
      return { contents, loader: args.path.endsWith("x") ? "tsx" : "ts" }
    })
  }
}

/** Marks a bundle as used now; false when it is not there. */
const touch = (path: string): boolean => {
  try {
    const now = new Date()
    utimesSync(path, now, now)
    return true
  } catch {
    return false
  }
}

/** Removes what in `cacheDir` went unused for an hour, `keep` aside. */
const prune = (cacheDir: string, keep: string) => {
  for (const entry of readdirSync(cacheDir)) {
    const path = join(cacheDir, entry)
    try {
      if (path !== keep && Date.now() - statSync(path).mtimeMs > unusedFor) {
        rmSync(path, { recursive: true, force: true })
      }
    } catch {
      // Another process removed it first.
    }
  }
}

const build = async (esbuild: typeof Esbuild, bundle: Bundle): Promise<string> => {
  const cacheDir = join(repoRoot, "node_modules", ".cache", bundle.cache)
  const outDir = join(cacheDir, bundleHash(bundle))
  const complete = () =>
    Object.keys(bundle.entries).every((name) => existsSync(join(outDir, `${name}.mjs`)))
  if (touch(outDir) && complete()) return outDir

  mkdirSync(cacheDir, { recursive: true })
  const building = `${outDir}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
  try {
    await esbuild.build({
      entryPoints: { ...bundle.entries },
      outdir: building,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      splitting: bundle.splitting ?? false,
      platform: "node",
      format: "esm",
      target: "node20",
      external: [...(bundle.external ?? ["better-sqlite3", "pg-native"])],
      banner: {
        js: "import { createRequire as bundleCreateRequire } from 'node:module';" +
          " const require = bundleCreateRequire(import.meta.url);"
      },
      plugins: bundle.sourceImportMeta === true ? [sourceImportMeta] : [],
      logLevel: "silent"
    })
    try {
      renameSync(building, outDir)
    } catch {
      // Another process put the same bundle in place meanwhile; anything
      // else standing there is a broken leftover, replaced.
      if (!complete()) {
        rmSync(outDir, { recursive: true, force: true })
        renameSync(building, outDir)
      }
    }
  } finally {
    rmSync(building, { recursive: true, force: true })
  }
  prune(cacheDir, outDir)
  return outDir
}

let esbuildModule: Promise<typeof Esbuild | undefined> | undefined
const builds = new Map<string, Promise<string>>()

/** A bundle's directory, built at most once per process. */
const built = (esbuild: typeof Esbuild, bundle: Bundle): Promise<string> => {
  const key = JSON.stringify(bundle)
  let dir = builds.get(key)
  if (dir === undefined) {
    dir = build(esbuild, bundle)
    builds.set(key, dir)
  }
  return dir
}

/**
 * The arguments to `node` that run the entry point `name`: its file in the
 * first of `bundles` that builds, or the last build's error. With
 * `tsxVariable` set to 1 in the environment, or without esbuild installed,
 * `--import tsx` and the entry point's source instead.
 */
export const nodeArguments = async (
  name: string,
  bundles: readonly [Bundle, ...ReadonlyArray<Bundle>],
  tsxVariable: string
): Promise<ReadonlyArray<string>> => {
  const tsx = ["--import", "tsx", bundles[0].entries[name]!]
  if (process.env[tsxVariable] === "1") return tsx
  const esbuild = await (esbuildModule ??= import("esbuild").catch(() => undefined))
  if (esbuild === undefined) return tsx
  let failure: unknown
  for (const bundle of bundles) {
    const dir = await built(esbuild, bundle).catch((error: unknown) => {
      failure = error
      return undefined
    })
    if (dir !== undefined) return [join(dir, `${name}.mjs`)]
  }
  throw failure
}
