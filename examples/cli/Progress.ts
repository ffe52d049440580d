/**
 * Shows a job's progress: a live bar on a terminal (cli-progress), plain
 * "Progress: N% (done/total posts processed)" lines otherwise.
 */
import { SingleBar, Presets } from "cli-progress"
import { Effect, Stream } from "effect"
import type { Job } from "../../src/index.js"

export const show = <E, R>(
  jobs: Stream.Stream<Job, E, R>,
  output: NodeJS.WriteStream = process.stderr
): Effect.Effect<void, E, R> =>
  output.isTTY
    ? Effect.acquireUseRelease(
        Effect.sync(() => {
          const bar = new SingleBar(
            {
              format: "Analysing |{bar}| {percentage}% | {value}/{total} posts",
              stream: output,
              hideCursor: true
            },
            Presets.shades_classic
          )
          bar.start(1, 0)
          return bar
        }),
        (bar) =>
          Stream.runForEach(jobs, (job) =>
            Effect.sync(() => {
              bar.setTotal(Math.max(job.total, 1))
              bar.update(job.processed)
            })
          ),
        (bar) => Effect.sync(() => bar.stop())
      )
    : jobs.pipe(
        Stream.map((job) => job.progressLine),
        Stream.changes,
        Stream.runForEach((line) => Effect.sync(() => output.write(`${line}\n`)))
      )
