import { describe, expect, it } from "vitest";
import { MAX_BACKOFF_MS, nextDelay } from "./backoff";

describe("nextDelay", () => {
  it("doubles on each error up to 30 s, and returns to the base after a success", () => {
    let delay = 2000;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      delay = nextDelay(2000, delay, false);
      seen.push(delay);
    }
    expect(seen).toEqual([4000, 8000, 16000, 30000, 30000, 30000]);
    expect(nextDelay(2000, delay, true)).toBe(2000);
    expect(MAX_BACKOFF_MS).toBe(30000);
  });
});
