import { describe, expect, it } from "vitest";
import { maskRecipient } from "./mask";

describe("maskRecipient", () => {
  it("keeps a phone number's country code and prefix and its last three digits", () => {
    expect(maskRecipient("+254712345678")).toBe("+2547•••••678");
    expect(maskRecipient("+31612345678")).toBe("+3161••••678");
  });

  it("keeps an address's first letter and its domain", () => {
    expect(maskRecipient("alice@example.com")).toBe("a•••@example.com");
  });

  it("hides a short number all but its last two digits", () => {
    expect(maskRecipient("+1234567")).toBe("+•••••67");
  });

  it("shows only the ends of an opaque token", () => {
    expect(maskRecipient("device-token-abcdef")).toBe("devi•••cdef");
    expect(maskRecipient("short")).toBe("•••••");
  });

  it("never returns the recipient itself", () => {
    for (const r of ["+254712345678", "bob@example.org", "st-device-token"]) expect(maskRecipient(r)).not.toBe(r);
  });
});
