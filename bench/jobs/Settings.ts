/**
 * What the job benchmarks run, and the targets they are held to.
 */

export const settings = {
  /** Pickup samples per store and mode, after the warm-up. */
  pickupSamples: 200,
  pickupWarmup: 10,
  /**
   * SQLite has no cross-process wake-up, so each of these samples waits
   * for the runner's next poll: few samples show it.
   */
  sqliteCrossProcessSamples: 5,
  /** Warm-up of the SQLite cross-process figure: each sample costs a poll. */
  sqliteCrossProcessWarmup: 1,
  /** Idle time between pickup samples, so the runner is back waiting. */
  pickupGapMillis: 5,
  /**
   * Posts of the one job each throughput figure runs: enough for the rate
   * to settle, few enough for the Postgres runs to end within seconds.
   */
  throughputPosts: 1000,
  concurrencies: [1, 16] as const,
  /** One-post jobs whose store operations are timed one by one. */
  operationJobs: 30,
  roundTrips: 500,
  /** Posts checkpointed by each direct and bare-driver figure. */
  checkpointPosts: 200
}

/**
 * graphile-worker's figures on this kind of machine (2 cores, Postgres 15
 * on the same host), and BullMQ on Redis as the stretch goal. Latency in
 * milliseconds.
 */
export const targets = {
  pickupP50: 5,
  pickupP99: 15,
  stretchPickupP50: 1.8,
  stretchPickupP99: 6.0,
  postsPerSecond: 2000
}
