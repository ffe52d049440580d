import { Effect } from "effect"
import { StoreError } from "../Errors.js"

/**
 * Wraps the driver and row-decoding failures of one store operation. Apply
 * it before adding domain errors such as NotFound.
 */
export const orStoreError =
  (operation: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, StoreError, R> =>
    Effect.mapError(effect, (cause) => new StoreError({ operation, cause }))
