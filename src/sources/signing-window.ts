// Every provider's signature carries when it was signed, and a delivery signed too long ago or
// too far ahead (WEBHOOK_TOLERANCE_SECONDS either way) is refused: an old signed body replayed
// later, or one from a clock far off, is as suspect as an unsigned one.

/** Why a signing time is refused, or undefined when it is within the window. */
export function outsideWindow(now: Date, signedAtMs: number, toleranceSeconds: number): string | undefined {
  return Math.abs(now.getTime() - signedAtMs) > toleranceSeconds * 1000
    ? `signature timestamp is outside the ${toleranceSeconds} s window`
    : undefined;
}
